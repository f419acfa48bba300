"""Codecs: images <-> the network's data space (see ``protocol.py``)."""

from twinflow.codec.pixel import PixelCodec, PointCodec
from twinflow.codec.protocol import Codec
from twinflow.codec.vae import VAECodec

__all__ = ["Codec", "PixelCodec", "PointCodec", "VAECodec"]
