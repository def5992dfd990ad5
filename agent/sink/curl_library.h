// CurlLibrary: the libcurl functions CurlHttpClient calls, loaded with dlopen the first time a
// client needs them.
//
// Why not link libcurl: its shared library and the ~30 it depends on (GnuTLS, Kerberos, LDAP,
// libssh2, nghttp2, ...) would be mapped and relocated at every start, and curl_global_init
// initialises OpenSSL: ~7 MiB of RSS for an agent whose endpoints AsioHttpClient serves. Only a
// proxy or a unix socket (CurlHttpClient's remaining uses) now pays for it. The header is still
// libcurl's, so the types and constants are checked at build time; the library loaded is the
// runtime package's libcurl.so.4 (the ABI libcurl has kept since 7.16).
//
// Thread-safe: loaded once (std::call_once); the table is immutable afterwards and lives until
// the process exits.
#pragma once

#include <curl/curl.h>

#include "absl/status/statusor.h"

namespace sluice {

struct CurlLibrary {
  CURLcode (*global_init)(long flags);
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL* handle);
  CURLcode (*easy_setopt)(CURL* handle, CURLoption option, ...);
  CURLcode (*easy_getinfo)(CURL* handle, CURLINFO info, ...);
  CURLcode (*easy_perform)(CURL* handle);
  const char* (*easy_strerror)(CURLcode code);
  curl_slist* (*slist_append)(curl_slist* list, const char* value);
  void (*slist_free_all)(curl_slist* list);
  CURLU* (*url)();
  void (*url_cleanup)(CURLU* url);
  CURLUcode (*url_set)(CURLU* url, CURLUPart part, const char* content, unsigned int flags);
  CURLUcode (*url_get)(const CURLU* url, CURLUPart part, char** content, unsigned int flags);
  const char* (*url_strerror)(CURLUcode code);
  void (*free)(void* p);
};

// libcurl, loaded and curl_global_init'ed once; an error names what is missing (the package to
// install is libcurl4).
absl::StatusOr<const CurlLibrary*> LoadCurl();

}  // namespace sluice
