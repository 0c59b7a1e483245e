"""The legacy bank-card OCR API: its codes, signature, response schema, client and server."""
