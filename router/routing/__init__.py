"""Choose the model: the policy a decision respects, and the selector that ranks the catalog."""
