"""cardpipe: bank-card OCR at batch scale."""

__version__ = "0.1.0"
