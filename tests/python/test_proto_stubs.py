"""The generated Python stubs import and describe the v1 API."""

from quantd.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2, worker_pb2_grpc


def test_job_service_has_every_rpc():
    service = jobs_pb2.DESCRIPTOR.services_by_name["JobService"]
    assert {m.name for m in service.methods} == {
        "SubmitJob", "GetJob", "ListJobs", "CancelJob", "WatchJob",
        "ListArtifacts", "DownloadArtifact", "UploadBlob", "ListWorkers",
    }
    assert hasattr(jobs_pb2_grpc, "JobServiceStub")
    assert hasattr(worker_pb2_grpc, "WorkerGatewayStub")


def test_job_spec_round_trips():
    spec = types_pb2.JobSpec(method="osplus", priority=3)
    spec.model.uri = "file:///models/smollm2"
    spec.scheme.preset = "w8a8"
    spec.labels["team"] = "ml"
    copy = types_pb2.JobSpec.FromString(spec.SerializeToString())
    assert copy == spec
    assert copy.model.WhichOneof("source") == "uri"


def test_job_states_are_ordered_like_the_lifecycle():
    names = [types_pb2.JobState.Name(v) for v in range(7)]
    assert names == [
        "JOB_STATE_UNSPECIFIED", "JOB_STATE_QUEUED", "JOB_STATE_LEASED",
        "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED",
        "JOB_STATE_CANCELLED",
    ]
