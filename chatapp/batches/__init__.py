"""Batch jobs: one prompt asked of many documents through the Message Batches API, at half price."""
