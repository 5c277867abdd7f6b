// The grpc.health.v1 service names the server answers, and what each means.
//
// "" and "prediction.v1.PredictionService" mean ready: the API's models are
// loaded. "liveness" means only that the process answers. Why "" is readiness
// and not liveness: the health spec makes "" the server's overall status, and
// load balancers, grpc-js clients and grpc-health-probe ask "" by default to
// decide where calls go, so "" must not say SERVING while the API cannot
// answer; liveness, which restarts the pod, gets a name of its own.
export const LIVENESS = "liveness";
