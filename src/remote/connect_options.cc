// Coordinator-side defaults that need no gRPC (built with or without it).
#include <cstdlib>

#include "remote/client.h"

namespace tutti::remote {

ConnectOptions ConnectOptions::FromEnvironment() {
  ConnectOptions o;
  if (const char* t = std::getenv("TUTTI_REMOTE_TOKEN")) o.token = t;
  if (const char* c = std::getenv("TUTTI_REMOTE_CA")) o.tls_ca_file = c;
  if (const char* n = std::getenv("TUTTI_REMOTE_TLS_NAME")) o.tls_server_name = n;
  if (const char* ms = std::getenv("TUTTI_REMOTE_TIMEOUT_MS")) {
    int v = std::atoi(ms);
    if (v > 0) o.run_timeout_ms = v;
  }
  if (const char* ms = std::getenv("TUTTI_REMOTE_CONNECT_TIMEOUT_MS")) {
    int v = std::atoi(ms);
    if (v > 0) o.connect_timeout_ms = v;
  }
  return o;
}

}  // namespace tutti::remote
