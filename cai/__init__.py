"""cai: a Constitutional AI / RLAIF faithfulness engine."""

__version__ = "0.1.0"
