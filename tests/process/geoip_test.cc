// Tests of stage.geoip (agent/process/stages/geoip.cc) against MaxMind DBs that the test writes
// itself: a Perl script (MaxMind::DB::Writer, Debian's libmaxmind-db-writer-perl, installed by
// scripts/setup.sh) writes a city, an ASN and a mis-typed database into a temporary directory
// before the tests run. Without perl or the module the tests fail rather than skip.
// Test thread only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/process/stage_test_util.h"

namespace sluice::testing {
namespace {

// Writes <dir>/city.mmdb (IPv6 tree), <dir>/asn.mmdb (IPv4 tree) and <dir>/odd.mmdb (time_zone
// a number, latitude a float) from the networks below.
constexpr char kWriterScript[] = R"perl(
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $dir = shift or die "usage: write.pl DIR\n";

sub write_db {
  my ($file, $ip_version, $type, $types, $networks) = @_;
  my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version => $ip_version,
    record_size => 24,
    database_type => $type,
    languages => ['en', 'de'],
    description => { en => 'sluice geoip_test' },
    remove_reserved_networks => 0,
    map_key_type_callback => sub { $types->{ $_[0] } // die "no type for $_[0]\n" },
  );
  for my $n (@$networks) { $tree->insert_network($n->[0], $n->[1]); }
  open my $fh, '>:raw', "$dir/$file" or die "$dir/$file: $!\n";
  $tree->write_tree($fh);
  close $fh or die "$dir/$file: $!\n";
}

my %city_types = (
  city => 'map', country => 'map', continent => 'map', location => 'map', postal => 'map',
  subdivisions => ['array', 'map'], names => 'map', en => 'utf8_string', de => 'utf8_string',
  iso_code => 'utf8_string', code => 'utf8_string', geoname_id => 'uint32',
  latitude => 'double', longitude => 'double', time_zone => 'utf8_string',
  accuracy_radius => 'uint16', is_in_european_union => 'boolean',
);
write_db('city.mmdb', 6, 'GeoIP2-City', \%city_types, [
  ['1.2.3.0/24', {
    city => { geoname_id => 2988507, names => { en => 'Paris', de => 'Paris' } },
    continent => { code => 'EU', names => { en => 'Europe', de => 'Europa' } },
    country => { iso_code => 'FR', is_in_european_union => 1,
                 names => { en => 'France', de => 'Frankreich' } },
    location => { latitude => 48.8566, longitude => 2.3522, time_zone => 'Europe/Paris',
                  accuracy_radius => 20 },
    postal => { code => '75001' },
    subdivisions => [ { iso_code => 'IDF', names => { en => 'Ile-de-France' } },
                      { iso_code => '75', names => { en => 'Paris' } } ],
  }],
  ['2001:db8::/32', {
    continent => { code => 'EU', names => { en => 'Europe' } },
    country => { iso_code => 'DE', names => { en => 'Germany' } },
    location => { latitude => 0, longitude => 0 },
    city => { names => { en => '' } },
  }],
  ['5.6.7.0/24', { location => { latitude => 0, longitude => -3.5 } }],
]);

write_db('asn.mmdb', 4, 'GeoLite2-ASN', {
  autonomous_system_number => 'uint32', autonomous_system_organization => 'utf8_string',
}, [
  ['1.2.3.0/24', { autonomous_system_number => 64500,
                   autonomous_system_organization => 'Example Networks' }],
  ['8.8.8.0/24', { autonomous_system_number => 15169 }],
]);

write_db('odd.mmdb', 6, 'GeoIP2-City', {
  city => 'map', names => 'map', en => 'utf8_string', location => 'map',
  latitude => 'float', longitude => 'double', time_zone => 'uint32',
}, [
  ['1.2.3.0/24', { city => { names => { en => 'Paris' } },
                   location => { latitude => 1.1, longitude => 2.5, time_zone => 7 } }],
]);
)perl";

class GeoIpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/sluice-geoip-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = new std::string(tmpl);
    const std::string script = *dir_ + "/write.pl";
    {
      std::ofstream out(script);
      out << kWriterScript;
    }
    const std::string cmd = "perl '" + script + "' '" + *dir_ + "'";
    const int rc = std::system(cmd.c_str());
    ASSERT_EQ(rc, 0) << "`" << cmd << "` failed: perl and libmaxmind-db-writer-perl are needed "
                     << "(scripts/setup.sh installs them)";
  }
  static void TearDownTestSuite() {
    if (dir_ == nullptr) return;
    std::error_code ec;
    std::filesystem::remove_all(*dir_, ec);
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(dir_ != nullptr && std::filesystem::exists(Db("city.mmdb")))
        << "the databases were not written";
  }

  static std::string Db(const std::string& name) { return *dir_ + "/" + name; }

  // Builds a stage.geoip reading extracted["ip"] from `db` with the other attributes given.
  static StageHarness Stage(const std::string& db, BlockBuilder b) {
    StageHarness h;
    EXPECT_TRUE(h.Build(NewGeoIpStage, b.Attr("db", Str(Db(db))).Attr("source", Str("ip")).Build()))
        << ::testing::PrintToString(h.Errors());
    return h;
  }
  static StageHarness Typed(const std::string& db, const std::string& type) {
    return Stage(db, BlockBuilder("stage.geoip").Attr("db_type", Str(type)));
  }

  static ProcessEntry WithIp(ExtractedValue ip) {
    ProcessEntry e = Entry("client connected");
    e.extracted["ip"] = std::move(ip);
    return e;
  }
  static ProcessEntry WithIp(const std::string& ip) { return WithIp(ExtractedValue::String(ip)); }

  static uint64_t Failures(const StageHarness& h, const std::string& reason) {
    return h.Counter("loki_process_geoip_lookup_failures_total", {{"reason", reason}});
  }

  // extracted[key] when it is a number, else NaN.
  static double Num(const ProcessEntry& e, const std::string& key) {
    const ExtractedValue* v = Extracted(e, key);
    return v != nullptr && v->kind == ExtractedValue::Kind::kNumber ? v->num : std::nan("");
  }

  static std::string* dir_;
};

std::string* GeoIpTest::dir_ = nullptr;

TEST_F(GeoIpTest, CityFields) {
  StageHarness h = Typed("city.mmdb", "city");
  ProcessEntry e = h.One(WithIp("1.2.3.4"));
  EXPECT_EQ(X(e, "geoip_city_name"), "Paris");
  EXPECT_EQ(X(e, "geoip_country_name"), "France");
  EXPECT_EQ(X(e, "geoip_country_code"), "FR");
  EXPECT_EQ(X(e, "geoip_continent_name"), "Europe");
  EXPECT_EQ(X(e, "geoip_continent_code"), "EU");
  EXPECT_EQ(X(e, "geoip_postal_code"), "75001");
  EXPECT_EQ(X(e, "geoip_timezone"), "Europe/Paris");
  EXPECT_EQ(Num(e, "geoip_location_latitude"), 48.8566);
  EXPECT_EQ(Num(e, "geoip_location_longitude"), 2.3522);
  // The most specific (last) subdivision.
  EXPECT_EQ(X(e, "geoip_subdivision_name"), "Paris");
  EXPECT_EQ(X(e, "geoip_subdivision_code"), "75");
  EXPECT_EQ(X(e, "ip"), "1.2.3.4");
  EXPECT_EQ(e.extracted.size(), 12u);
  EXPECT_EQ(e.line, "client connected");
  std::string lat;
  ASSERT_TRUE(Extracted(e, "geoip_location_latitude")->ToString(&lat));
  EXPECT_EQ(lat, "48.8566");

  // An IPv4-mapped IPv6 address is looked up as IPv4, as maxminddb-golang does.
  EXPECT_EQ(X(h.One(WithIp("::ffff:1.2.3.200")), "geoip_city_name"), "Paris");
  EXPECT_EQ(Failures(h, "not_an_ip") + Failures(h, "lookup_error"), 0u);
}

TEST_F(GeoIpTest, EmptyAndZeroFieldsAreNotAdded) {
  StageHarness h = Typed("city.mmdb", "city");
  ProcessEntry v6 = h.One(WithIp("2001:db8:0:1::7"));
  EXPECT_EQ(X(v6, "geoip_country_name"), "Germany");
  EXPECT_EQ(X(v6, "geoip_country_code"), "DE");
  EXPECT_EQ(X(v6, "geoip_continent_code"), "EU");
  EXPECT_EQ(X(v6, "geoip_city_name"), "<absent>") << "an empty name is not added";
  EXPECT_EQ(X(v6, "geoip_location_latitude"), "<absent>") << "0, 0 is no location";
  EXPECT_EQ(X(v6, "geoip_subdivision_name"), "<absent>");
  EXPECT_EQ(v6.extracted.size(), 5u);

  // One coordinate set: both are added.
  ProcessEntry half = h.One(WithIp("5.6.7.8"));
  EXPECT_EQ(X(half, "geoip_location_latitude"), "<num:0>");
  EXPECT_EQ(X(half, "geoip_location_longitude"), "<num:-3.5>");
  EXPECT_EQ(half.extracted.size(), 3u);
}

TEST_F(GeoIpTest, CountryTypeAddsOnlyCountryFields) {
  StageHarness h = Typed("city.mmdb", "country");
  ProcessEntry e = h.One(WithIp("1.2.3.4"));
  EXPECT_EQ(X(e, "geoip_country_name"), "France");
  EXPECT_EQ(X(e, "geoip_country_code"), "FR");
  EXPECT_EQ(X(e, "geoip_continent_name"), "Europe");
  EXPECT_EQ(X(e, "geoip_continent_code"), "EU");
  EXPECT_EQ(e.extracted.size(), 5u);
}

TEST_F(GeoIpTest, AsnFields) {
  StageHarness h = Typed("asn.mmdb", "asn");
  ProcessEntry e = h.One(WithIp("1.2.3.4"));
  EXPECT_EQ(X(e, "geoip_autonomous_system_number"), "<num:64500>");
  EXPECT_EQ(X(e, "geoip_autonomous_system_organization"), "Example Networks");
  std::string asn;
  ASSERT_TRUE(Extracted(e, "geoip_autonomous_system_number")->ToString(&asn));
  EXPECT_EQ(asn, "64500");

  ProcessEntry no_org = h.One(WithIp("8.8.8.8"));
  EXPECT_EQ(X(no_org, "geoip_autonomous_system_number"), "<num:15169>");
  EXPECT_EQ(X(no_org, "geoip_autonomous_system_organization"), "<absent>");

  // An IPv6 address in an IPv4-only database is a failed lookup: the entry passes unchanged.
  ProcessEntry v6 = h.One(WithIp("2001:db8::1"));
  EXPECT_EQ(v6.extracted.size(), 1u);
  EXPECT_EQ(Failures(h, "lookup_error"), 1u);
}

TEST_F(GeoIpTest, AddressNotInTheDatabaseLeavesTheEntryUnchanged) {
  StageHarness h = Typed("city.mmdb", "city");
  ProcessEntry e = h.One(WithIp("9.9.9.9"));
  EXPECT_EQ(e.extracted.size(), 1u);
  EXPECT_EQ(e.line, "client connected");
  EXPECT_EQ(Failures(h, "not_an_ip") + Failures(h, "lookup_error"), 0u) << "not a failure";
}

TEST_F(GeoIpTest, DbTypeIsNotCheckedAgainstTheDatabase) {
  // Alloy does not compare db_type with the database's type: the fields are simply absent.
  StageHarness city_on_asn = Typed("asn.mmdb", "city");
  EXPECT_EQ(city_on_asn.One(WithIp("1.2.3.4")).extracted.size(), 1u);
  StageHarness asn_on_city = Typed("city.mmdb", "asn");
  EXPECT_EQ(asn_on_city.One(WithIp("1.2.3.4")).extracted.size(), 1u);
  EXPECT_EQ(Failures(city_on_asn, "lookup_error") + Failures(asn_on_city, "lookup_error"), 0u);
}

TEST_F(GeoIpTest, ValuesThatAreNotAnIpAreCounted) {
  StageHarness h = Typed("city.mmdb", "city");
  const std::vector<std::string> bad = {"not-an-ip",    "",          "1.2.3",
                                        "1.2.3.4.5",    "01.2.3.4",  "1.2.3.4 ",
                                        "fe80::1%eth0", "256.1.1.1", "1.2.3.4/24"};
  for (const std::string& value : bad) {
    ProcessEntry e = h.One(WithIp(value));
    EXPECT_EQ(e.extracted.size(), 1u) << value;
  }
  // A number is converted to a string first ("5"), which is no address either.
  EXPECT_EQ(h.One(WithIp(ExtractedValue::Number(5))).extracted.size(), 1u);
  EXPECT_EQ(Failures(h, "not_an_ip"), bad.size() + 1);
  EXPECT_EQ(Failures(h, "lookup_error"), 0u);
}

TEST_F(GeoIpTest, MissingOrNullSourceLeavesTheEntryUnchanged) {
  StageHarness h = Typed("city.mmdb", "city");
  ProcessEntry missing = Entry("no ip here");
  missing.extracted["addr"] = ExtractedValue::String("1.2.3.4");
  ProcessEntry out = h.One(std::move(missing));
  EXPECT_EQ(out.extracted.size(), 1u);
  EXPECT_EQ(out.line, "no ip here");
  EXPECT_EQ(h.One(WithIp(ExtractedValue::Null())).extracted.size(), 1u);
  // The line is never read, even when it is an address.
  EXPECT_TRUE(h.One(Entry("1.2.3.4")).extracted.empty());
  EXPECT_EQ(Failures(h, "not_an_ip") + Failures(h, "lookup_error"), 0u);
}

TEST_F(GeoIpTest, CustomLookups) {
  StageHarness h = Stage(
      "city.mmdb", BlockBuilder("stage.geoip")
                       .Attr("custom_lookups", Obj({{"city_de", Str("city.names.de")},
                                                    {"region", Str("subdivisions[0].iso_code")},
                                                    {"lat", Str("location.latitude")},
                                                    {"radius", Str("location.accuracy_radius")},
                                                    {"eu", Str("country.is_in_european_union")},
                                                    {"names", Str("city.names")},
                                                    {"missing", Str("traits.network")},
                                                    {"postal", Str("")},
                                                    {"always", Str("`\"x\"`")}})));
  ProcessEntry e = h.One(WithIp("1.2.3.4"));
  EXPECT_EQ(X(e, "city_de"), "Paris");
  EXPECT_EQ(X(e, "region"), "IDF");
  EXPECT_EQ(Num(e, "lat"), 48.8566);
  EXPECT_EQ(X(e, "radius"), "<num:20>");
  EXPECT_EQ(X(e, "eu"), "<bool:true>");
  // Objects and arrays are stored as null: later stages skip them, as Alloy's getString
  // refuses a Go map.
  EXPECT_EQ(X(e, "names"), "<null>");
  EXPECT_EQ(X(e, "postal"), "<null>") << "an empty expression is the key itself";
  EXPECT_EQ(X(e, "missing"), "<absent>") << "a null result is not added";
  EXPECT_EQ(X(e, "always"), "x");
  // Without db_type, none of the fixed fields.
  EXPECT_EQ(X(e, "geoip_city_name"), "<absent>");

  // Not in the database: the expressions see null.
  ProcessEntry none = h.One(WithIp("9.9.9.9"));
  EXPECT_EQ(X(none, "always"), "x");
  EXPECT_EQ(none.extracted.size(), 2u);

  // Again (from the record cache) with a db_type as well.
  StageHarness both =
      Stage("city.mmdb", BlockBuilder("stage.geoip")
                             .Attr("db_type", Str("city"))
                             .Attr("custom_lookups", Obj({{"geoip_city_name", Str("city.names.de")},
                                                          {"tz", Str("location.time_zone")}})));
  for (int i = 0; i < 2; ++i) {
    ProcessEntry b = both.One(WithIp("1.2.3." + std::to_string(10 + i)));
    EXPECT_EQ(X(b, "tz"), "Europe/Paris");
    EXPECT_EQ(X(b, "geoip_country_code"), "FR");
  }
}

TEST_F(GeoIpTest, MistypedRecordFailsTheTypedLookupOnly) {
  // time_zone is a number: geoip2-golang's City struct refuses the record, so nothing is added.
  StageHarness typed = Typed("odd.mmdb", "city");
  EXPECT_EQ(typed.One(WithIp("1.2.3.4")).extracted.size(), 1u);
  EXPECT_EQ(Failures(typed, "lookup_error"), 1u);

  // custom_lookups decode into `any`, which takes every type; a float keeps its float32 digits.
  StageHarness custom =
      Stage("odd.mmdb", BlockBuilder("stage.geoip")
                            .Attr("custom_lookups", Obj({{"tz", Str("location.time_zone")},
                                                         {"lat", Str("location.latitude")}})));
  ProcessEntry e = custom.One(WithIp("1.2.3.4"));
  EXPECT_EQ(X(e, "tz"), "<num:7>");
  std::string lat;
  ASSERT_TRUE(Extracted(e, "lat")->ToString(&lat));
  EXPECT_EQ(lat, "1.1");
}

TEST_F(GeoIpTest, ConfigErrors) {
  struct Case {
    std::vector<std::pair<std::string, config::Value>> attrs;
    std::string error;
    std::string at;  // the attribute the error points at ("" for the block)
  };
  const std::string city = Db("city.mmdb");
  const std::vector<Case> cases = {
      {{{"source", Str("ip")}, {"db_type", Str("city")}}, "missing required attribute \"db\"", ""},
      {{{"db", Str(city)}, {"db_type", Str("city")}}, "missing required attribute \"source\"", ""},
      {{{"db", Str("")}, {"source", Str("ip")}, {"db_type", Str("city")}},
       "db path cannot be empty",
       "db"},
      {{{"db", Str(city)}, {"source", Str("")}, {"db_type", Str("city")}},
       "source cannot be empty",
       "source"},
      {{{"db", Str(city)}, {"source", Str("ip")}}, "db type or values need to be set", ""},
      {{{"db", Str(city)}, {"source", Str("ip")}, {"db_type", Str("fake")}},
       "db type should be either city or asn",
       "db_type"},
      {{{"db", Str(city)}, {"source", Str("ip")}, {"custom_lookups", Obj({{"f", Str(".-bad")}})}},
       "could not compile JMES expression",
       "custom_lookups"},
      {{{"db", Str(city)}, {"source", Str("ip")}, {"db_type", Str("city")}, {"extra", Int(1)}},
       "unrecognized attribute name \"extra\"",
       "extra"},
  };
  for (const Case& c : cases) {
    BlockBuilder b("stage.geoip");
    for (const auto& [name, value] : c.attrs) b.Attr(name, value);
    config::Block block = b.Build();
    StageHarness h;
    EXPECT_FALSE(h.Build(NewGeoIpStage, block)) << c.error;
    ASSERT_EQ(h.diags.list().size(), 1u) << ::testing::PrintToString(h.Errors());
    EXPECT_THAT(h.diags.list()[0].message, ::testing::StartsWith(c.error));
    config::Pos want = block.span.begin;
    for (const config::Attr& a : block.body.attrs) {
      // An unknown attribute is reported at its name, a bad value at the value.
      if (a.name == c.at) want = c.at == "extra" ? a.name_span.begin : a.value_span.begin;
    }
    EXPECT_EQ(h.diags.list()[0].span.begin, want) << c.error;
  }
}

TEST_F(GeoIpTest, UnreadableDatabaseIsAnErrorAtDb) {
  const std::string garbage = Db("garbage.mmdb");
  {
    std::ofstream out(garbage);
    out << "this is not a MaxMind DB";
  }
  for (const auto& [path, reason] : std::vector<std::pair<std::string, std::string>>{
           {Db("absent.mmdb"),
            "Error opening the specified MaxMind DB file: No such file or "
            "directory"},
           {garbage, "The MaxMind DB file contains invalid metadata"}}) {
    config::Block block = BlockBuilder("stage.geoip")
                              .Attr("db", Str(path))
                              .Attr("source", Str("ip"))
                              .Attr("db_type", Str("city"))
                              .Build();
    StageHarness h;
    EXPECT_FALSE(h.Build(NewGeoIpStage, block));
    EXPECT_EQ(h.Errors(), std::vector<std::string>{"open " + path + ": " + reason});
    ASSERT_EQ(h.diags.list().size(), 1u);
    EXPECT_EQ(h.diags.list()[0].span.file, "test.alloy");
    EXPECT_EQ(h.diags.list()[0].span.begin, block.body.attrs[0].value_span.begin);
  }

  // `sluice validate` does not open the database; the stage then passes entries unchanged.
  StageHarness validate;
  validate.ctx.validate_only = true;
  ASSERT_TRUE(validate.Build(NewGeoIpStage, BlockBuilder("stage.geoip")
                                                .Attr("db", Str(Db("absent.mmdb")))
                                                .Attr("source", Str("ip"))
                                                .Attr("db_type", Str("city"))
                                                .Build()));
  EXPECT_EQ(validate.One(WithIp("1.2.3.4")).extracted.size(), 1u);
}

}  // namespace
}  // namespace sluice::testing
