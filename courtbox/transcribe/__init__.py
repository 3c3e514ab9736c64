"""Speech to text: the bundled model, the faster-whisper engine and its worker process,
Chinese text normalisation and the error-rate metrics."""
