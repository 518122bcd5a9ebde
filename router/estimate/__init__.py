"""Know the cost before sending: text and image tokens, and the estimate of a request on a model."""
