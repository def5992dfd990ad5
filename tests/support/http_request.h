// A plain HTTP request from a test (libcurl, blocking, 60 s at most): the status (0 when no
// answer came) and the body. Any thread.
#pragma once

#include <string>

namespace sluice::testing {

struct HttpResponse {
  long status = 0;
  std::string body;
};

// `method` GET, HEAD, POST (empty body), ...
HttpResponse HttpRequest(const std::string& method, const std::string& url);

}  // namespace sluice::testing
