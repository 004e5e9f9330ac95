"""The two bedrock-runtime APIs a batch record's ``modelInput`` can be written for."""

INVOKE_MODEL = "InvokeModel"  # the model family's native request body
CONVERSE = "Converse"  # the same body for every model (messages, inferenceConfig)
