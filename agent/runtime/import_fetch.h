// What import.http and import.git read, for the configuration loader (config::ImportFetcher),
// and the check that tells a running configuration its imported modules changed.
//
// import.http: one request (method, headers, body, poll_timeout) with libcurl; a status other
// than 200 fails, as remote.http does; the body is whitespace-trimmed; module_path is the URL
// up to its last '/'. import.git: the `git` program (no library in Debian does it better):
// a clone in <storage>/<import id>/repo, fetched again at each read, `revision` (a branch, tag
// or commit) checked out detached; `path` (file or directory) read from it; module_path is the
// clone. Runs on the loading thread or the service's import poller; blocking.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "agent/config/module.h"

namespace sluice {

absl::StatusOr<config::ImportResult> FetchImport(const config::ImportRequest& request,
                                                 const std::string& storage_path);

// Reads the module `li` was loaded from again; true when its text differs (or it cannot be
// read now: false, the last good content stays, as in Alloy). import.string never changes by
// itself.
bool ImportChanged(const config::LoadedImport& li, const std::string& storage_path);

}  // namespace sluice
