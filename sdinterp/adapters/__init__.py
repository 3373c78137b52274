"""Model adapters (installed as ``sdinterp.adapters``): one module per model family."""
