"""The model server's Prometheus figures, beside the request counts and latencies of grpc_server's interceptor."""

from prometheus_client import Counter, Gauge, Histogram

_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600, 3600)

IN_FLIGHT = Gauge("commentslab_model_server_requests_in_flight", "Generate requests waiting or running")
GENERATED_TOKENS = Counter("commentslab_model_server_generated_tokens_total", "Tokens generated", ["model"])
SAMPLES = Counter("commentslab_model_server_samples_total", "Completions generated", ["model"])
TOKENS_PER_SECOND = Gauge("commentslab_model_server_tokens_per_second",
                          "Tokens/s of the decode loop over its last second of steps", ["model"])
LOADED_MODELS = Gauge("commentslab_model_server_loaded_models", "Models held in memory")
QUEUE_DEPTH = Gauge("commentslab_model_server_queue_depth", "Rows (prompt x sample) waiting to join the batch")
BATCH_SIZE = Histogram("commentslab_model_server_batch_size", "Rows in each decode step",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
REQUEST_SECONDS = Histogram("commentslab_model_server_request_seconds",
                            "Generate request latency, submit to last token", ["model"], buckets=_SECONDS)
TIME_TO_FIRST_TOKEN = Histogram("commentslab_model_server_time_to_first_token_seconds",
                                "Submit to first generated token", ["model"], buckets=_SECONDS)
CANCELLED = Counter("commentslab_model_server_cancelled_requests_total",
                    "Requests whose rows left the batch unfinished", ["reason"])
