"""gonka-upgrade-harness: proves that a Gonka API node moves all MLNode traffic onto the new
version prefix at a governance partial-upgrade height, and that its chain connection heals."""

__version__ = "0.1.0"
