"""The synthetic bank-card generator behind scripts/make_cards.py: spec sampling, card faces, photo degradations."""
