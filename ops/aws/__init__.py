"""AWS: CloudFormation for what exists (one stack per environment, aws/environment.yml), boto3 for
what happens (change sets, events, secrets). Clients are made the ordinary way, so boto3's own
settings apply: credentials, AWS_PROFILE, and AWS_ENDPOINT_URL (the tests' moto server)."""
