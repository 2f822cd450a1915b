"""Channel adapters: one module per channel behind the contract in ``channels.base``."""
