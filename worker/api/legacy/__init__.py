"""The legacy bank-card OCR API (``POST /ocr/bankcard``): its codes, signature, request and response schemas,
and client."""
