"""CDK stacks and their components for Amazon Bedrock batch inference."""
