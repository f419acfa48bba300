"""A diffusers backbone through the whole platform: SANA adapter + DC-AE codec + Gemma-2
conditioner inside ``TwinFlowModule``, trained by Lightning and sampled at 1 and 2 NFE."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from tests.test_text_conditioners import sana_parts  # noqa: F401  (fixture)
from twinflow.codec import VAECodec
from twinflow.codec.vae import TINY_DCAE_CONFIG
from twinflow.data.batch import Batch
from twinflow.module import TwinFlowModule
from twinflow.networks.sana import TINY_SANA_CONFIG, SanaNetwork
from twinflow.text import SanaConditioner

PROMPTS = ["a red cat on a mat", "two dogs", "a red cat", "two dogs on a mat"]


def test_sana_module_trains_and_samples(sana_parts):  # noqa: F811
    encoder, tokenizer = sana_parts
    conditioner = SanaConditioner(text_encoder=encoder, tokenizer=tokenizer, max_length=16)
    torch.manual_seed(0)
    codec = VAECodec(family="sana", config=TINY_DCAE_CONFIG, height=16, width=16)
    channels, h, w = codec.latent_shape
    config = {**TINY_SANA_CONFIG, "in_channels": channels, "out_channels": channels}
    config["sample_size"] = h

    module = TwinFlowModule(
        network=lambda: SanaNetwork(config=config),
        optimizer=lambda params: torch.optim.AdamW(params, lr=1e-3),
        ema_decay=0.9,
        codec=codec,
        conditioner=conditioner,
        sample_batch_size=4,
    )
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (len(PROMPTS), 16, 16, 3), dtype=torch.uint8, generator=g)
    with torch.no_grad():
        batch = Batch(codec.encode(images), conditioner.encode(PROMPTS), conditioner.null())
    assert batch.x.shape == (4, channels, h, w) and batch.cond.mask is not None

    module.configure_model()
    before = {k: v.clone() for k, v in module.network.state_dict().items()}
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, DataLoader([batch] * 3, batch_size=None, collate_fn=lambda b: b))
    assert module.skipped_steps == 0
    after = module.network.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert int(module.ema.updates) == 3

    for nfe in (1, 2):
        out = module.generate(PROMPTS[:2], nfe=nfe, seed=0)
        assert out.dtype == np.uint8 and out.shape == (2, 16, 16, 3)
    again = module.generate(PROMPTS[:2], nfe=1, seed=0)
    np.testing.assert_array_equal(again, module.generate(PROMPTS[:2], nfe=1, seed=0))
