"""grpc.health.v1 and server reflection on a real quantd."""

import time


def test_health_reports_serving(quantd, grpc_std_stubs):
    import health_pb2, health_pb2_grpc
    stub = health_pb2_grpc.HealthStub(quantd.channel)
    for service in ("", "quantd.v1.JobService", "quantd.v1.WorkerGateway"):
        response = stub.Check(health_pb2.HealthCheckRequest(service=service),
                              timeout=30)
        assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(quantd, grpc_std_stubs):
    import reflection_pb2, reflection_pb2_grpc
    stub = reflection_pb2_grpc.ServerReflectionStub(quantd.channel)
    responses = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
        timeout=30)
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert {"quantd.v1.JobService", "quantd.v1.WorkerGateway",
            "grpc.health.v1.Health"} <= names


def test_health_is_not_serving_when_the_store_fails(start_quantd, grpc_std_stubs):
    import health_pb2, health_pb2_grpc
    quantd = start_quantd("--health.check_interval_seconds=0.05")
    stub = health_pb2_grpc.HealthStub(quantd.channel)
    # Pull the database file from under the running daemon.
    (quantd.data_dir / "data" / "quantd.db").unlink()
    deadline = time.monotonic() + 30
    status = None
    while time.monotonic() < deadline:
        status = stub.Check(health_pb2.HealthCheckRequest(), timeout=30).status
        if status == health_pb2.HealthCheckResponse.NOT_SERVING:
            break
        time.sleep(0.05)
    assert status == health_pb2.HealthCheckResponse.NOT_SERVING, quantd.log()
