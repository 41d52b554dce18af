"""The district service: the street office's store of every compound's gate events,
its orders down to the compounds, and its page (docs/district.md).

Modules import what they need; this package's `__init__` imports none of them."""
