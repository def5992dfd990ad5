// File identity beyond its path: device + inode + a hash of the file's first bytes.
//
// Inodes are reused as soon as a file is deleted, and kubelet rotates pod logs by rename + create,
// so (device, inode) alone can point a resumed offset at an unrelated new file. The fingerprint
// of the first bytes tells such a new file on an old inode apart from the one we were reading.
//
// Plain functions with no state; safe from any thread. The fingerprint value is persisted in the
// positions file, so FingerprintBytes must never change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice {

// How many leading bytes of a file the fingerprint covers (at most).
inline constexpr size_t kFingerprintMaxBytes = 1024;

// FNV-1a 64-bit (offset basis 0xcbf29ce484222325, prime 0x100000001b3) over `first_bytes`.
// Stable forever: the value is persisted. FingerprintBytes("") == 0xcbf29ce484222325.
uint64_t FingerprintBytes(std::string_view first_bytes);

struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t fingerprint = 0;      // FingerprintBytes of the first fingerprint_len bytes
  uint32_t fingerprint_len = 0;  // 0 = file was empty when fingerprinted

  friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

// Reads the first up to kFingerprintMaxBytes bytes of an open fd with pread (offset 0, so the fd's
// file offset is untouched) and fills id->fingerprint and id->fingerprint_len.
absl::Status ComputeFingerprint(int fd, FileIdentity* id);

// fstat + ComputeFingerprint: the full identity of an open file.
absl::StatusOr<FileIdentity> IdentifyFile(int fd);

// True when the open file's first id.fingerprint_len bytes hash to id.fingerprint, i.e. the file
// starts with the same content it had when fingerprinted (it may have grown since). False when the
// file is now shorter than fingerprint_len or its start differs. A fingerprint_len of 0 matches
// any file (an empty file had no content to compare). InvalidArgument when fingerprint_len is
// above kFingerprintMaxBytes.
absl::StatusOr<bool> FingerprintMatches(int fd, const FileIdentity& id);

}  // namespace sluice
