"""LoRA via peft on tiny diffusers transformers, and the stock pipelines reading its export."""

import copy

import pytest
import torch

from twinflow.networks.lora import LoraSettings, add_lora, save_lora_for_pipeline

QWEN = dict(
    patch_size=2,
    in_channels=16,
    out_channels=4,
    num_layers=2,
    attention_head_dim=16,
    num_attention_heads=2,
    joint_attention_dim=24,
    axes_dims_rope=(4, 6, 6),
)


def qwen_inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        hidden_states=torch.randn(2, 16, 16, generator=g),
        encoder_hidden_states=torch.randn(2, 5, 24, generator=g),
        encoder_hidden_states_mask=torch.ones(2, 5),
        timestep=torch.tensor([0.3, 0.9]),
        img_shapes=[[(1, 4, 4)]] * 2,
        return_dict=False,
    )


def perturb_lora(model):
    """B starts at 0 (adapter = identity): give it values so the round trip is not trivial."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))


def test_lora_freezes_the_base_and_trains_only_adapters():
    from diffusers import QwenImageTransformer2DModel

    torch.manual_seed(0)
    model = QwenImageTransformer2DModel(**QWEN)
    before = model(**qwen_inputs())[0]
    add_lora(model, LoraSettings(rank=4, alpha=4))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    # B = 0 at start: the adapted model equals the base model exactly.
    torch.testing.assert_close(model(**qwen_inputs())[0], before, rtol=0, atol=0)


def test_missing_targets_are_one_clear_error():
    from diffusers import QwenImageTransformer2DModel

    model = QwenImageTransformer2DModel(**QWEN)
    with pytest.raises(ValueError, match="none of the LoRA target modules"):
        add_lora(model, LoraSettings(rank=4, alpha=4, target_modules=("no_such_proj",)))


def test_qwen_pipeline_loads_the_exported_lora(tmp_path):
    from diffusers import QwenImagePipeline, QwenImageTransformer2DModel

    torch.manual_seed(0)
    base = QwenImageTransformer2DModel(**QWEN)
    stock = copy.deepcopy(base)
    add_lora(base, LoraSettings(rank=4, alpha=8))
    perturb_lora(base)
    with torch.no_grad():
        expected = base(**qwen_inputs())[0]
    path = save_lora_for_pipeline(base, QwenImagePipeline, tmp_path / "lora")
    assert path.is_file()

    pipe = QwenImagePipeline(
        scheduler=None, vae=None, text_encoder=None, tokenizer=None, transformer=stock
    )
    pipe.load_lora_weights(str(path.parent))
    assert any("lora_A" in n for n, _ in pipe.transformer.named_parameters())
    with torch.no_grad():
        got = pipe.transformer(**qwen_inputs())[0]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_sana_pipeline_loads_the_exported_lora(tmp_path):
    from diffusers import SanaPipeline, SanaTransformer2DModel

    config = dict(
        in_channels=4,
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=8,
        num_layers=2,
        num_cross_attention_heads=2,
        cross_attention_head_dim=8,
        cross_attention_dim=16,
        caption_channels=12,
        sample_size=8,
    )
    torch.manual_seed(0)
    base = SanaTransformer2DModel(**config)
    stock = copy.deepcopy(base)
    add_lora(base, LoraSettings(rank=4, alpha=4))
    perturb_lora(base)
    g = torch.Generator().manual_seed(0)
    inputs = dict(
        hidden_states=torch.randn(2, 4, 8, 8, generator=g),
        encoder_hidden_states=torch.randn(2, 5, 12, generator=g),
        timestep=torch.tensor([300.0, 900.0]),
        encoder_attention_mask=torch.ones(2, 5),
        return_dict=False,
    )
    with torch.no_grad():
        expected = base(**inputs)[0]
    path = save_lora_for_pipeline(base, SanaPipeline, tmp_path / "lora")
    pipe = SanaPipeline(
        tokenizer=None, text_encoder=None, vae=None, transformer=stock, scheduler=None
    )
    pipe.load_lora_weights(str(path.parent))
    with torch.no_grad():
        got = pipe.transformer(**inputs)[0]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
