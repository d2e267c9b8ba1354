"""The datasets' pipeline: Noether's multi-stage pipeline with no stages (samples are stacked)."""

from noether.data.pipeline import MultiStagePipeline


class BlobPipeline(MultiStagePipeline):
    def __init__(self, pipeline_config, **kwargs):
        self.pipeline_config = pipeline_config
        super().__init__(sample_processors=[], collators=[], batch_processors=[], **kwargs)
