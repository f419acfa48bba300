"""TwinFlow: one- and few-step generators from self-adversarial flows."""

__version__ = "0.1.0"
