"""Names a request may use, shared by the request model and the command line."""

ROLES = ("system", "user", "assistant")
DETAILS = ("auto", "low", "high")
MEDIA_RESOLUTIONS = ("low", "medium", "high")
