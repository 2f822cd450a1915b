"""HTTP routes of the helpline service, one module per audience."""
