#include "agent/sink/curl_library.h"

#include <dlfcn.h>

#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sluice {

namespace {

absl::StatusOr<const CurlLibrary*> Load() {
  // RTLD_LOCAL: nothing else in the process should bind to curl's symbols by accident.
  void* so = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (so == nullptr) {
    const char* why = dlerror();
    return absl::UnavailableError(absl::StrCat(
        "libcurl is needed for proxies and unix sockets and could not be loaded (install "
        "libcurl4): ",
        why != nullptr ? why : "dlopen failed"));
  }
  static CurlLibrary lib;
  bool ok = true;
  auto get = [&](auto** fn, const char* name) {
    void* sym = dlsym(so, name);
    if (sym == nullptr) ok = false;
    *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(sym);
  };
  get(&lib.global_init, "curl_global_init");
  get(&lib.easy_init, "curl_easy_init");
  get(&lib.easy_cleanup, "curl_easy_cleanup");
  get(&lib.easy_setopt, "curl_easy_setopt");
  get(&lib.easy_getinfo, "curl_easy_getinfo");
  get(&lib.easy_perform, "curl_easy_perform");
  get(&lib.easy_strerror, "curl_easy_strerror");
  get(&lib.slist_append, "curl_slist_append");
  get(&lib.slist_free_all, "curl_slist_free_all");
  get(&lib.url, "curl_url");
  get(&lib.url_cleanup, "curl_url_cleanup");
  get(&lib.url_set, "curl_url_set");
  get(&lib.url_get, "curl_url_get");
  get(&lib.url_strerror, "curl_url_strerror");
  get(&lib.free, "curl_free");
  if (!ok) return absl::UnavailableError("libcurl.so.4 lacks a function sluice needs (7.62+)");
  CURLcode rc = lib.global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) {
    return absl::InternalError(absl::StrCat("curl_global_init: ", lib.easy_strerror(rc)));
  }
  return &lib;
}

}  // namespace

absl::StatusOr<const CurlLibrary*> LoadCurl() {
  // Loaded once and never unloaded: handles made from it live until the process exits.
  static std::once_flag once;
  static absl::StatusOr<const CurlLibrary*>* result = nullptr;
  std::call_once(once, [] { result = new absl::StatusOr<const CurlLibrary*>(Load()); });
  return *result;
}

}  // namespace sluice
