"""Code that runs on the producer's side, beside the pipelines: not part of the server."""
