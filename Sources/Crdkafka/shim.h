#ifndef MULESTREAM_CRDKAFKA_SHIM_H
#define MULESTREAM_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* Swift cannot call C variadic functions: one fixed-arity entry point for what the tests need.
 * The next request of type api_key that broker_id serves is answered after rtt_ms with err
 * (RD_KAFKA_RESP_ERR_NO_ERROR: the request itself is carried out, only late). */
static inline rd_kafka_resp_err_t
mulestream_mock_push_broker_request_error(rd_kafka_mock_cluster_t *mcluster, int32_t broker_id,
                                          int16_t api_key, rd_kafka_resp_err_t err, int rtt_ms) {
    return rd_kafka_mock_broker_push_request_error_rtts(mcluster, broker_id, api_key, 1, err, rtt_ms);
}
#endif
