// stage.geoip: looks up the IP address held in the extracted value `source` in a MaxMind DB
// (`db`) and adds what it finds to the extracted map, as Alloy's geoip stage: the fixed fields of
// a GeoIP2/GeoLite2 City, Country or ASN record (`db_type`: geoip_city_name, geoip_country_name,
// geoip_country_code, geoip_continent_name, geoip_continent_code,
// geoip_location_latitude/longitude, geoip_postal_code, geoip_timezone, geoip_subdivision_name/
// code (the most specific subdivision), geoip_autonomous_system_number/organization), and/or
// `custom_lookups`: JMESPath expressions over the whole record.
//
// As in Alloy, nothing here drops or changes an entry beyond adding fields: an absent or null
// source, a value that is not an IP, an address the database does not hold and a failed lookup
// all pass the entry on unchanged. Like Alloy it logs the non-IP value and the failed lookup as
// errors (rate-limited by the logger); sluice also counts them in
// loki_process_geoip_lookup_failures_total{reason="not_an_ip"|"lookup_error"}. Empty strings and
// a zero ASN are not added; latitude and longitude are added together unless both are 0 (Alloy's
// checks). The database type is not checked against `db_type`, as Alloy does not: a field the
// record lacks is simply not added.
//
// Fidelity notes. Alloy decodes the record into geoip2-golang's structs, which fails the whole
// lookup when a field has another type than the struct's; sluice checks the types of the
// fields it reads (not of those it ignores, such as geoname_id). custom_lookups see the record as
// maxminddb-golang decodes it into `any` (maps, arrays, strings, numbers, bools); a result that
// is an object or an array is stored as null, which later stages skip exactly where Alloy's
// getString refuses Go's map or slice.
//
// The database is opened once, memory-mapped, when the stage is built and closed when the
// stage is destroyed; a missing or unreadable database is a configuration error at `db`
// (except under `sluice validate`, which reads no file of the node: the stage then passes entries
// unchanged). Lookups allocate nothing for the fixed fields; custom_lookups convert each record
// once and keep it, by its offset in the database, in a bounded cache.
//
// Owned by its pipeline (agent/process/pipeline.h: a loki.process component's, or the nested one
// of a stage.match) and run on that pipeline's thread, the tail thread (see stage.h).
#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "agent/common/log.h"
#include "agent/go/jmespath.h"
#include "agent/process/stage.h"
#include "agent/process/stages/registry.h"
#include "agent/process/stages/stage_util.h"

namespace sluice {
namespace {

using stage_util::StageErrors;

enum class DbType { kNone, kCity, kAsn, kCountry };

// The extracted-map keys (Alloy's `fields`).
constexpr std::string_view kCityName = "geoip_city_name";
constexpr std::string_view kCountryName = "geoip_country_name";
constexpr std::string_view kCountryCode = "geoip_country_code";
constexpr std::string_view kContinentName = "geoip_continent_name";
constexpr std::string_view kContinentCode = "geoip_continent_code";
constexpr std::string_view kLatitude = "geoip_location_latitude";
constexpr std::string_view kLongitude = "geoip_location_longitude";
constexpr std::string_view kPostalCode = "geoip_postal_code";
constexpr std::string_view kTimezone = "geoip_timezone";
constexpr std::string_view kSubdivisionName = "geoip_subdivision_name";
constexpr std::string_view kSubdivisionCode = "geoip_subdivision_code";
constexpr std::string_view kAsn = "geoip_autonomous_system_number";
constexpr std::string_view kAsnOrg = "geoip_autonomous_system_organization";

struct MmdbCloser {
  void operator()(MMDB_s* db) const {
    MMDB_close(db);
    delete db;
  }
};
using MmdbPtr = std::unique_ptr<MMDB_s, MmdbCloser>;

// An address as net.ParseIP accepts it (dotted-decimal IPv4 without leading zeros, or IPv6
// without a zone; inet_pton has the same rules), as a sockaddr for MMDB_lookup_sockaddr. An
// IPv4-mapped IPv6 address is looked up as IPv4, as maxminddb-golang does (ip.To4()).
bool ParseIp(std::string_view s, sockaddr_storage* out) {
  char buf[INET6_ADDRSTRLEN];
  if (s.size() >= sizeof(buf) || s.find('\0') != std::string_view::npos) return false;
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  std::memset(out, 0, sizeof(*out));
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (s.find(':') == std::string_view::npos) {
    v4->sin_family = AF_INET;
    return inet_pton(AF_INET, buf, &v4->sin_addr) == 1;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, buf, &a6) != 1) return false;
  if (IN6_IS_ADDR_V4MAPPED(&a6)) {
    v4->sin_family = AF_INET;
    std::memcpy(&v4->sin_addr, &a6.s6_addr[12], 4);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  v6->sin6_family = AF_INET6;
  v6->sin6_addr = a6;
  return true;
}

// Reads typed fields of a record as geoip2-golang's structs do: an absent field is the zero
// value, a field of another type than the struct's makes the record bad (Go's unmarshal
// error). A child of an absent value is absent, so that calls chain without checks.
class RecordReader {
 public:
  explicit RecordReader(const MMDB_s* db) : db_(db) {}

  // The child of map `parent` at `key`; has_data is false when it is absent (or its parent is).
  MMDB_entry_data_s Get(const MMDB_entry_data_s& parent, const char* key) {
    MMDB_entry_data_s out{};
    if (!parent.has_data || bad_) return out;
    MMDB_entry_s at{db_, parent.offset};
    const char* const path[] = {key, nullptr};
    const int rc = MMDB_aget_value(&at, &out, path);
    // libmaxminddb reports a key a map lacks as a path that does not match the data (older
    // versions as success without data).
    if (rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR || (rc == MMDB_SUCCESS && !out.has_data)) {
      return MMDB_entry_data_s{};
    }
    if (rc != MMDB_SUCCESS) return Bad();
    return out;
  }
  MMDB_entry_data_s Map(const MMDB_entry_data_s& parent, const char* key) {
    MMDB_entry_data_s v = Get(parent, key);
    return !v.has_data || v.type == MMDB_DATA_TYPE_MAP ? v : Bad();
  }
  std::string_view Str(const MMDB_entry_data_s& parent, const char* key) {
    MMDB_entry_data_s v = Get(parent, key);
    if (!v.has_data) return {};
    if (v.type != MMDB_DATA_TYPE_UTF8_STRING) {
      Bad();
      return {};
    }
    return std::string_view(v.utf8_string, v.data_size);
  }
  // names["en"] of the map parent[key] (city, country, continent).
  std::string_view EnglishName(const MMDB_entry_data_s& parent, const char* key) {
    return Str(Map(Map(parent, key), "names"), "en");
  }
  // A float64 field: a double, or a float widened.
  double Float(const MMDB_entry_data_s& parent, const char* key) {
    MMDB_entry_data_s v = Get(parent, key);
    if (!v.has_data) return 0;
    if (v.type == MMDB_DATA_TYPE_DOUBLE) return v.double_value;
    if (v.type == MMDB_DATA_TYPE_FLOAT) return static_cast<double>(v.float_value);
    Bad();
    return 0;
  }
  // A Go `uint` field: any unsigned type up to 64 bits, or a non-negative int32.
  uint64_t Uint(const MMDB_entry_data_s& parent, const char* key) {
    MMDB_entry_data_s v = Get(parent, key);
    if (!v.has_data) return 0;
    switch (v.type) {
      case MMDB_DATA_TYPE_UINT16:
        return v.uint16;
      case MMDB_DATA_TYPE_UINT32:
        return v.uint32;
      case MMDB_DATA_TYPE_UINT64:
        return v.uint64;
      case MMDB_DATA_TYPE_INT32:
        if (v.int32 >= 0) return static_cast<uint64_t>(v.int32);
        break;
      default:
        break;
    }
    Bad();
    return 0;
  }
  // The last element of the array parent[key], which must be a map (subdivisions).
  MMDB_entry_data_s LastMap(const MMDB_entry_data_s& parent, const char* key) {
    MMDB_entry_data_s arr = Get(parent, key);
    if (!arr.has_data) return arr;
    if (arr.type != MMDB_DATA_TYPE_ARRAY) return Bad();
    if (arr.data_size == 0) return MMDB_entry_data_s{};
    char index[16];
    auto res = std::to_chars(index, index + sizeof(index) - 1, arr.data_size - 1);
    *res.ptr = '\0';
    MMDB_entry_data_s out{};
    MMDB_entry_s at{db_, arr.offset};
    const char* const path[] = {index, nullptr};
    if (MMDB_aget_value(&at, &out, path) != MMDB_SUCCESS || out.type != MMDB_DATA_TYPE_MAP) {
      return Bad();
    }
    return out;
  }
  bool bad() const { return bad_; }

 private:
  MMDB_entry_data_s Bad() {
    bad_ = true;
    return MMDB_entry_data_s{};
  }

  const MMDB_s* db_;
  bool bad_ = false;
};

// A float of the database as Go's getString prints a float32 (the shortest digits that read
// back as the same float32), so that later stages see "1.1", not the widened double's digits.
double ShortestFloat(float f) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), f);
  double d = f;
  std::from_chars(buf, res.ptr, d);
  return d;
}

constexpr int kMaxRecordDepth = 512;  // libmaxminddb's own limit on nesting

// The value at *node of an entry data list (advancing past it) as maxminddb-golang decodes into
// `any`. False on a malformed list.
bool ToValue(MMDB_entry_data_list_s** node, int depth, jmespath::Value* out) {
  if (*node == nullptr || depth > kMaxRecordDepth) return false;
  const MMDB_entry_data_s d = (*node)->entry_data;
  *node = (*node)->next;
  switch (d.type) {
    case MMDB_DATA_TYPE_MAP: {
      jmespath::Value::Members members;
      members.reserve(std::min<uint32_t>(d.data_size, 64));
      for (uint32_t i = 0; i < d.data_size; ++i) {
        if (*node == nullptr || (*node)->entry_data.type != MMDB_DATA_TYPE_UTF8_STRING) {
          return false;
        }
        std::string key((*node)->entry_data.utf8_string, (*node)->entry_data.data_size);
        *node = (*node)->next;
        jmespath::Value v;
        if (!ToValue(node, depth + 1, &v)) return false;
        members.emplace_back(std::move(key), std::move(v));
      }
      *out = jmespath::Value::Object(std::move(members));
      return true;
    }
    case MMDB_DATA_TYPE_ARRAY: {
      std::vector<jmespath::Value> elems;
      elems.reserve(std::min<uint32_t>(d.data_size, 64));
      for (uint32_t i = 0; i < d.data_size; ++i) {
        jmespath::Value v;
        if (!ToValue(node, depth + 1, &v)) return false;
        elems.push_back(std::move(v));
      }
      *out = jmespath::Value::Array(std::move(elems));
      return true;
    }
    case MMDB_DATA_TYPE_UTF8_STRING:
      *out = jmespath::Value::String(std::string(d.utf8_string, d.data_size));
      return true;
    case MMDB_DATA_TYPE_DOUBLE:
      *out = jmespath::Value::Number(d.double_value);
      return true;
    case MMDB_DATA_TYPE_FLOAT:
      *out = jmespath::Value::Number(ShortestFloat(d.float_value));
      return true;
    case MMDB_DATA_TYPE_UINT16:
      *out = jmespath::Value::Number(d.uint16);
      return true;
    case MMDB_DATA_TYPE_UINT32:
      *out = jmespath::Value::Number(d.uint32);
      return true;
    case MMDB_DATA_TYPE_INT32:
      *out = jmespath::Value::Number(d.int32);
      return true;
    case MMDB_DATA_TYPE_UINT64:
      *out = jmespath::Value::Number(static_cast<double>(d.uint64));
      return true;
    case MMDB_DATA_TYPE_UINT128: {
      // Go gives a *big.Int; a number is the closest value JMESPath can compare.
#if MMDB_UINT128_IS_BYTE_ARRAY
      double n = 0;
      for (uint8_t b : d.uint128) n = n * 256 + b;
      *out = jmespath::Value::Number(n);
#else
      *out = jmespath::Value::Number(static_cast<double>(d.uint128));
#endif
      return true;
    }
    case MMDB_DATA_TYPE_BOOLEAN:
      *out = jmespath::Value::Bool(d.boolean);
      return true;
    case MMDB_DATA_TYPE_BYTES: {
      // Go's []byte: JMESPath sees a list of numbers.
      std::vector<jmespath::Value> elems;
      elems.reserve(d.data_size);
      for (uint32_t i = 0; i < d.data_size; ++i)
        elems.push_back(jmespath::Value::Number(d.bytes[i]));
      *out = jmespath::Value::Array(std::move(elems));
      return true;
    }
    default:
      return false;
  }
}

class GeoIpStage final : public Stage {
 public:
  GeoIpStage(const StageContext& ctx, MmdbPtr db, std::string source, DbType type,
             std::vector<std::pair<std::string, jmespath::Expression>> lookups)
      : component_(ctx.component_id),
        db_(std::move(db)),
        source_(std::move(source)),
        type_(type),
        lookups_(std::move(lookups)),
        not_ip_(Failures(ctx, "not_an_ip")),
        lookup_error_(Failures(ctx, "lookup_error")) {}

  void Process(ProcessEntry&& e, EmitFn emit) override {
    if (db_ != nullptr) Enrich(&e);
    emit(std::move(e));
  }

 private:
  static Counter* Failures(const StageContext& ctx, std::string_view reason) {
    return stage_util::ComponentCounter(
        ctx, "loki_process_geoip_lookup_failures_total",
        "Entries stage.geoip passed on without lookup: the source was not an IP address "
        "(not_an_ip) or the database lookup failed (lookup_error)",
        {{"reason", std::string(reason)}});
  }

  void Enrich(ProcessEntry* e) {
    std::string_view
        value;  // copied: the typed fields are written into the map before it is last read
    if (!stage_util::ResolveSourceCopy(*e, source_, &scratch_, &value)) {
      LogDebug(component_,
               "source does not exist in the set of extracted values or is not a string",
               {{"source", source_}});
      return;
    }
    sockaddr_storage addr;
    if (!ParseIp(value, &addr)) {
      LogError(component_, "source is not an ip", {{"source", std::string(value)}});
      stage_util::Inc(not_ip_);
      return;
    }
    int mmdb_error = MMDB_SUCCESS;
    MMDB_lookup_result_s found =
        MMDB_lookup_sockaddr(db_.get(), reinterpret_cast<const sockaddr*>(&addr), &mmdb_error);
    if (mmdb_error != MMDB_SUCCESS) {
      LookupFailed(value, MMDB_strerror(mmdb_error), type_);
      return;
    }
    // Not in the database: Alloy's lookup leaves the record empty (no fields), and
    // custom_lookups then run against null.
    MMDB_entry_data_s root{};
    if (found.found_entry) {
      const char* const no_path[] = {nullptr};
      const int rc = MMDB_aget_value(&found.entry, &root, no_path);
      if (rc != MMDB_SUCCESS) {
        LookupFailed(value, MMDB_strerror(rc), type_);
        return;
      }
    }
    if (type_ != DbType::kNone && root.has_data) {
      if (root.type != MMDB_DATA_TYPE_MAP || !AddTypedFields(root, e)) {
        LookupFailed(value, "the record does not have the types of the database type's fields",
                     type_);
        return;
      }
    }
    if (lookups_.empty()) return;
    const jmespath::Value* record = &null_record_;
    if (found.found_entry) {
      record = Record(&found.entry);
      if (record == nullptr) {
        LookupFailed(value, "the record could not be decoded");
        return;
      }
    }
    for (const auto& [key, expr] : lookups_) {
      jmespath::Value result;
      if (!expr.Search(*record, &result)) {
        LogError(component_, "failed to search JMES expression", {{"key", key}});
        continue;
      }
      if (result.is_null()) continue;
      Store(result, &e->extracted[key]);
    }
  }

  // Logs with Alloy's message for the record type it was decoding, and counts.
  void LookupFailed(std::string_view ip, std::string_view why, DbType type = DbType::kNone) {
    std::string_view msg = "unable to lookup record for the ip";
    if (type == DbType::kCity) msg = "unable to get City record for the ip";
    if (type == DbType::kAsn) msg = "unable to get ASN record for the ip";
    if (type == DbType::kCountry) msg = "unable to get Country record for the ip";
    LogError(component_, msg, {{"err", why}, {"ip", ip}});
    stage_util::Inc(lookup_error_);
  }

  static void SetString(ProcessEntry* e, std::string_view key, std::string_view value) {
    if (value.empty()) return;
    ExtractedValue& v = e->extracted[std::string_view(key)];
    v.kind = ExtractedValue::Kind::kString;
    v.str.assign(value.data(), value.size());
  }

  // The fields of db_type's struct; false (nothing added) when a field has the wrong type.
  bool AddTypedFields(const MMDB_entry_data_s& root, ProcessEntry* e) {
    RecordReader r(db_.get());
    if (type_ == DbType::kAsn) {
      const uint64_t asn = r.Uint(root, "autonomous_system_number");
      const std::string_view org = r.Str(root, "autonomous_system_organization");
      if (r.bad()) return false;
      if (asn != 0) {
        e->extracted[std::string_view(kAsn)] = ExtractedValue::Number(static_cast<double>(asn));
      }
      SetString(e, kAsnOrg, org);
      return true;
    }
    const MMDB_entry_data_s country = r.Map(root, "country");
    const MMDB_entry_data_s continent = r.Map(root, "continent");
    const std::string_view country_name = r.EnglishName(root, "country");
    const std::string_view country_code = r.Str(country, "iso_code");
    const std::string_view continent_name = r.EnglishName(root, "continent");
    const std::string_view continent_code = r.Str(continent, "code");
    std::string_view city, postal, timezone, subdivision_name, subdivision_code;
    double latitude = 0, longitude = 0;
    if (type_ == DbType::kCity) {
      city = r.EnglishName(root, "city");
      postal = r.Str(r.Map(root, "postal"), "code");
      const MMDB_entry_data_s location = r.Map(root, "location");
      latitude = r.Float(location, "latitude");
      longitude = r.Float(location, "longitude");
      timezone = r.Str(location, "time_zone");
      const MMDB_entry_data_s subdivision = r.LastMap(root, "subdivisions");
      subdivision_name = r.Str(r.Map(subdivision, "names"), "en");
      subdivision_code = r.Str(subdivision, "iso_code");
    }
    if (r.bad()) return false;
    SetString(e, kCountryName, country_name);
    SetString(e, kCountryCode, country_code);
    SetString(e, kContinentName, continent_name);
    SetString(e, kContinentCode, continent_code);
    if (type_ != DbType::kCity) return true;
    SetString(e, kCityName, city);
    SetString(e, kPostalCode, postal);
    SetString(e, kTimezone, timezone);
    if (latitude != 0 || longitude != 0) {
      e->extracted[std::string_view(kLatitude)] = ExtractedValue::Number(latitude);
      e->extracted[std::string_view(kLongitude)] = ExtractedValue::Number(longitude);
    }
    SetString(e, kSubdivisionName, subdivision_name);
    SetString(e, kSubdivisionCode, subdivision_code);
    return true;
  }

  // The record at `entry` as a JMESPath value, from the cache or decoded; nullptr when it cannot
  // be decoded.
  const jmespath::Value* Record(MMDB_entry_s* entry) {
    auto it = records_.find(entry->offset);
    if (it != records_.end()) return &it->second;
    MMDB_entry_data_list_s* list = nullptr;
    const int rc = MMDB_get_entry_data_list(entry, &list);
    jmespath::Value value;
    MMDB_entry_data_list_s* node = list;
    const bool ok = rc == MMDB_SUCCESS && ToValue(&node, 0, &value);
    MMDB_free_entry_data_list(list);
    if (!ok) return nullptr;
    // A database has a few hundred thousand distinct records at most; clearing now and then
    // keeps the memory bounded whatever the traffic.
    if (records_.size() >= kMaxCachedRecords) records_.clear();
    return &records_.emplace(entry->offset, std::move(value)).first->second;
  }

  // Scalars keep their type; objects and arrays become null (see the top of the file).
  static void Store(const jmespath::Value& v, ExtractedValue* out) {
    switch (v.kind()) {
      case jmespath::Value::Kind::kBool:
        *out = ExtractedValue::Bool(v.boolean());
        return;
      case jmespath::Value::Kind::kNumber:
        *out = ExtractedValue::Number(v.number());
        return;
      case jmespath::Value::Kind::kString:
        out->kind = ExtractedValue::Kind::kString;
        out->str.assign(v.str());
        return;
      case jmespath::Value::Kind::kNull:
      case jmespath::Value::Kind::kArray:
      case jmespath::Value::Kind::kObject:
        *out = ExtractedValue::Null();
        return;
    }
  }

  static constexpr size_t kMaxCachedRecords = 4096;

  const std::string component_;
  const MmdbPtr db_;  // null under `sluice validate`
  const std::string source_;
  const DbType type_;
  const std::vector<std::pair<std::string, jmespath::Expression>> lookups_;
  Counter* const not_ip_;
  Counter* const lookup_error_;
  const jmespath::Value null_record_;
  absl::flat_hash_map<uint32_t, jmespath::Value> records_;
  std::string scratch_;
};

// Opens `path` as MaxMind DB, memory-mapped; the error names libmaxminddb's reason.
absl::StatusOr<MmdbPtr> OpenDb(const std::string& path) {
  auto* db = new MMDB_s{};
  errno = 0;
  const int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, db);
  const int saved_errno = errno;
  if (rc == MMDB_SUCCESS) return MmdbPtr(db);
  delete db;  // MMDB_open frees what it allocated before failing
  std::string msg = absl::StrCat("open ", path, ": ", MMDB_strerror(rc));
  if ((rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR) && saved_errno != 0) {
    absl::StrAppend(&msg, ": ", std::strerror(saved_errno));
  }
  return absl::InvalidArgumentError(msg);
}

}  // namespace

std::unique_ptr<Stage> NewGeoIpStage(config::Decoder& d, const StageContext& ctx) {
  StageErrors errs(d);
  std::string db, source, db_type;
  std::map<std::string, std::string> custom_lookups;
  const bool has_db = d.String("db", &db, config::Required::kYes);
  const bool has_source = d.String("source", &source, config::Required::kYes);
  d.String("db_type", &db_type);
  const bool has_lookups = d.StringMap("custom_lookups", &custom_lookups);
  if (!errs.clean()) {
    d.Finish();
    return nullptr;
  }
  // Alloy's validateGeoIPConfig, in its order: the first failed check is the error.
  DbType type = DbType::kNone;
  if (db_type == "city") type = DbType::kCity;
  if (db_type == "asn") type = DbType::kAsn;
  if (db_type == "country") type = DbType::kCountry;
  std::vector<std::pair<std::string, jmespath::Expression>> lookups;
  if (has_db && db.empty()) {
    errs.At("db", "db path cannot be empty");
  } else if (has_source && source.empty()) {
    errs.At("source", "source cannot be empty");
  } else if (db_type.empty() && !has_lookups) {
    errs.Block("db type or values need to be set");
  } else if (!db_type.empty() && type == DbType::kNone) {
    errs.At("db_type", "db type should be either city or asn");
  } else {
    for (const auto& [key, expr] : custom_lookups) {
      // An empty expression means the key itself.
      const std::string& text = expr.empty() ? key : expr;
      absl::StatusOr<jmespath::Expression> e = jmespath::Expression::Compile(text);
      if (!e.ok()) {
        errs.At("custom_lookups",
                absl::StrCat("could not compile JMES expression: ", e.status().message(),
                             " (expression \"", text, "\" for \"", key, "\")"));
        break;
      }
      lookups.emplace_back(key, std::move(*e));
    }
  }
  if (!errs.Finish()) return nullptr;
  MmdbPtr mmdb;
  if (!ctx.validate_only) {
    absl::StatusOr<MmdbPtr> opened = OpenDb(db);
    if (!opened.ok()) {
      errs.At("db", std::string(opened.status().message()));
      return nullptr;
    }
    mmdb = std::move(*opened);
  }
  return std::make_unique<GeoIpStage>(ctx, std::move(mmdb), std::move(source), type,
                                      std::move(lookups));
}

}  // namespace sluice
