#!/usr/bin/python3
"""A Python gRPC client for prediction.v1.PredictionService, as a Python team
would write one without generated stubs: message classes come from a binary
FileDescriptorSet (`buf build --as-file-descriptor-set -o FILE`), and calls go
through grpc.Channel.unary_unary with the classes' (de)serializers.

Usage: python_client.py COMMAND TARGET API_KEY DESCRIPTOR_SET
  COMMAND  predict | no-key | invalid | batch | health
  TARGET   host:port of a cleartext (h2c) gRPC server

Prints one JSON object on stdout; a failed RPC prints its code name, the
grpc-message text ("details") and any google.rpc.BadRequest violations.
Exit status 0 when the command ran (even if the RPC failed, as some commands
expect); 2 on a usage error.

Needs Debian's python3-grpcio and python3-protobuf (protobuf 3.21, grpcio 1.51).
"""

import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PREDICTION = "prediction.v1.PredictionService"
HEALTH = "grpc.health.v1.Health"
STATUS_DETAILS_KEY = "grpc-status-details-bin"


class Messages:
    """Message classes by full name, from a FileDescriptorSet file."""

    def __init__(self, path):
        fds = descriptor_pb2.FileDescriptorSet()
        with open(path, "rb") as f:
            fds.ParseFromString(f.read())
        self.pool = descriptor_pool.DescriptorPool()
        # The C++ pool builds each file as it is added, so add dependencies
        # first: do not rely on the order the set lists files in.
        by_name = {f.name: f for f in fds.file}
        added = set()

        def add(name):
            if name in added:
                return
            added.add(name)
            file = by_name[name]
            for dep in file.dependency:
                add(dep)
            self.pool.Add(file)

        for name in by_name:
            add(name)
        self._factory = message_factory.MessageFactory(self.pool)

    def __getitem__(self, full_name):
        descriptor = self.pool.FindMessageTypeByName(full_name)
        get_class = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.22
        if get_class is not None:
            return get_class(descriptor)
        return self._factory.GetPrototype(descriptor)

    def enum_value_name(self, enum_full_name, number):
        return self.pool.FindEnumTypeByName(enum_full_name).values_by_number[number].name


def unary(channel, messages, service, method):
    """A unary callable for /service/method, typed by the pool's descriptors."""
    desc = messages.pool.FindServiceByName(service).FindMethodByName(method)
    request_class = messages[desc.input_type.full_name]
    response_class = messages[desc.output_type.full_name]
    return request_class, channel.unary_unary(
        "/%s/%s" % (service, method),
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )


def loan(request_class, **overrides):
    fields = dict(
        age=35,
        income=55000.0,
        credit_score=720,
        employment_years=8.5,
        loan_amount=25000.0,
        loan_purpose=1,  # LOAN_PURPOSE_HOME
    )
    fields.update(overrides)
    return request_class(**fields)


def prediction_json(messages, response):
    return {
        "decision": messages.enum_value_name("prediction.v1.Decision", response.decision),
        "probability": response.probability,
        "approval_probability": response.approval_probability,
        "model_name": response.model_name,
        "model_version": response.model_version,
        "timestamp_seconds": response.timestamp.seconds,
        "factors": [
            {"feature": f.feature, "contribution": f.contribution, "description": f.description}
            for f in response.factors
        ],
    }


def error_json(messages, err):
    """Code name, message and google.rpc.BadRequest violations of a failed call."""
    out = {"code": err.code().name, "details": err.details(), "violations": None}
    trailers = err.trailing_metadata() or ()
    out["trailer_keys"] = sorted(k for k, _ in trailers)
    for key, value in trailers:
        if key != STATUS_DETAILS_KEY:
            continue
        status = messages["google.rpc.Status"].FromString(value)
        out["status_code"] = status.code
        out["status_message"] = status.message
        for any_ in status.details:
            # Unpack by hand: message classes from a custom pool need not
            # carry the Any well-known-type helpers.
            if any_.type_url.rsplit("/", 1)[-1] != "google.rpc.BadRequest":
                continue
            bad_request = messages["google.rpc.BadRequest"].FromString(any_.value)
            out["violations"] = [
                {"field": v.field, "reason": v.reason, "description": v.description}
                for v in bad_request.field_violations
            ]
    return out


def call(fn, request, messages, **kwargs):
    """(response, None) or (None, error JSON)."""
    try:
        return fn(request, timeout=10, **kwargs), None
    except grpc.RpcError as err:
        return None, error_json(messages, err)


def main(argv):
    if len(argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    command, target, api_key, descriptor_set = argv[1:]
    messages = Messages(descriptor_set)
    auth = (("x-api-key", api_key),)

    with grpc.insecure_channel(target) as channel:
        predict_request, predict = unary(channel, messages, PREDICTION, "Predict")

        if command == "predict":
            response, error = call(predict.with_call, loan(predict_request), messages, metadata=auth)
            if error:
                result = error
            else:
                response, rpc = response
                result = dict(code="OK", **prediction_json(messages, response))
                result["header_keys"] = sorted(k for k, _ in rpc.initial_metadata())

        elif command == "no-key":
            response, error = call(predict, loan(predict_request), messages)
            result = error or {"code": "OK"}

        elif command == "invalid":
            request = loan(predict_request, age=17, credit_score=900)
            response, error = call(predict, request, messages, metadata=auth)
            result = error or {"code": "OK"}

        elif command == "batch":
            batch_request, predict_batch = unary(channel, messages, PREDICTION, "PredictBatch")
            request = batch_request(
                inputs=[
                    loan(predict_request),
                    # strong applicant
                    loan(predict_request, age=40, income=120000.0, credit_score=800,
                         employment_years=10.0, loan_amount=20000.0),
                    # weak applicant
                    loan(predict_request, age=22, income=20000.0, credit_score=420,
                         employment_years=0.0, loan_amount=60000.0, loan_purpose=4),
                ]
            )
            response, error = call(predict_batch, request, messages, metadata=auth)
            result = error or {
                "code": "OK",
                "decisions": [
                    messages.enum_value_name("prediction.v1.Decision", p.decision)
                    for p in response.predictions
                ],
                "approval_probabilities": [p.approval_probability for p in response.predictions],
                "processing_time_set": response.HasField("processing_time"),
            }

        elif command == "health":
            check_request, check = unary(channel, messages, HEALTH, "Check")
            response, error = call(check, check_request(service=""), messages)
            result = error or {
                "code": "OK",
                "status": messages.enum_value_name(
                    "grpc.health.v1.HealthCheckResponse.ServingStatus", response.status
                ),
            }

        else:
            sys.stderr.write("unknown command %r\n%s" % (command, __doc__))
            return 2

    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
