"""API 3.0's BankCardOCR (``POST /``, action BankCardOCR, version 2018-11-19): its TC3-HMAC-SHA256 signature,
codes, request and response schemas, and client."""
