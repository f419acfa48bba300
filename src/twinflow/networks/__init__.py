"""Network contract and the built-in networks."""

from twinflow.networks.contract import Conditioning, VelocityNetwork
from twinflow.networks.digits_unet import DigitsUNet
from twinflow.networks.toy_mlp import ToyMLP

__all__ = ["Conditioning", "DigitsUNet", "ToyMLP", "VelocityNetwork"]
