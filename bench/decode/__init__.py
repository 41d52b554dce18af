"""Decode bench: seeded synthetic frames and a runner comparing QR/Code128 decoders."""
