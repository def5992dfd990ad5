// Tests for the syslog parsers and framings (agent/source/syslog_parser.h): RFC 5424 and RFC 3164
// examples, go-syslog's error cases, octet counting and newline framing as Alloy's
// syslogparser.ParseStream tests them.
#include "agent/source/syslog_parser.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sluice {
namespace {

using Results = std::vector<absl::StatusOr<SyslogMessage>>;

Results Stream(std::string_view data, SyslogStream::Format f = SyslogStream::Format::kRfc5424,
               size_t max = 8192, absl::Status* final_status = nullptr, size_t chunk = 0) {
  Results out;
  SyslogStream s(f, max);
  auto cb = [&](absl::StatusOr<SyslogMessage> m) { out.push_back(std::move(m)); };
  absl::Status st;
  if (chunk == 0) chunk = data.size() + 1;
  for (size_t i = 0; i < data.size() && st.ok(); i += chunk) {
    st = s.Feed(data.substr(i, chunk), cb);
  }
  if (st.ok()) st = s.Finish(cb);
  if (final_status != nullptr) *final_status = st;
  return out;
}

TEST(Rfc5424Test, FullMessage) {
  auto m = ParseRfc5424(
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] An application "
      "event log entry...");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->priority, 165);
  EXPECT_EQ(m->facility(), 20);
  EXPECT_EQ(m->severity(), 5);
  EXPECT_EQ(SyslogFacilityLevel(m->facility()), "local4");
  EXPECT_EQ(SyslogSeverityLevel(m->severity()), "notice");
  EXPECT_EQ(m->version, 1);
  ASSERT_TRUE(m->timestamp.has_value());
  EXPECT_EQ(absl::ToUnixMillis(*m->timestamp), 1065910455003);
  EXPECT_EQ(*m->hostname, "mymachine.example.com");
  EXPECT_EQ(*m->app_name, "evntslog");
  EXPECT_FALSE(m->proc_id.has_value());
  EXPECT_EQ(*m->msg_id, "ID47");
  EXPECT_EQ(m->structured_data.at("exampleSDID@32473").at("eventSource"), "Application");
  EXPECT_EQ(*m->message, "An application event log entry...");
}

TEST(Rfc5424Test, NilValuesAndNoMessage) {
  auto m = ParseRfc5424("<13>1 - - - - - -");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE(m->timestamp || m->hostname || m->app_name || m->proc_id || m->msg_id);
  EXPECT_TRUE(m->structured_data.empty());
  EXPECT_FALSE(m->message.has_value());
  auto e = ParseRfc5424("<13>1 - - - - - - ");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->message.has_value());  // an empty MSG is no message
}

TEST(Rfc5424Test, BomAndOffsetsAndEscapes) {
  auto m = ParseRfc5424(
      "<34>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - "
      "[a b=\"x\\\"y\\]z\\\\\"][c@1 d=\"\"] \xEF\xBB\xBF'su root' failed");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(absl::ToUnixMicros(*m->timestamp), 1061727255000003);
  EXPECT_EQ(m->utc_offset_s, -7 * 3600);
  EXPECT_EQ(*m->proc_id, "8710");
  EXPECT_EQ(m->structured_data.at("a").at("b"), "x\"y]z\\");
  EXPECT_EQ(m->structured_data.at("c@1").at("d"), "");
  EXPECT_EQ(*m->message, "\xEF\xBB\xBF'su root' failed");
  EXPECT_EQ(RenderRfc5424(*m),
            "<34>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - "
            "[a b=\"x\\\"y\\]z\\\\\"][c@1 d=\"\"] \xEF\xBB\xBF'su root' failed");
}

TEST(Rfc5424Test, RenderSortsAndTrims) {
  auto m =
      ParseRfc5424("<165>1 2018-10-11T22:14:15.500Z h a - id1 [z k=\"1\"][b y=\"2\" x=\"3\"] m");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(RenderRfc5424(*m),
            "<165>1 2018-10-11T22:14:15.5Z h a - id1 [b x=\"3\" y=\"2\"][z k=\"1\"] m");
}

TEST(Rfc5424Test, Errors) {
  for (const char* bad : {
           "",
           "13>1 - - - - - -",
           "<192>1 - - - - - -",
           "<013>1 - - - - - -",
           "<13>0 - - - - - -",
           "<13>1000 - - - - - -",
           "<13>1       First",
           "<13>1 2003-13-11T22:14:15Z - - - - -",
           "<13>1 2003-02-30T22:14:15Z - - - - -",
           "<13>1 2003-10-11T22:14:15.1234567Z - - - - -",
           "<13>1 2003-10-11 - - - - -",
           "<13>1 - - - - - [a b=\"c\"][a d=\"e\"]",
           "<13>1 - - - - - [a b=\"c\\x\"]",
           "<13>1 - - - - - [a b=\"c]",
           "<13>1 - - - - - [a b=c]",
           "<13>1 - - - - - [ b=\"c\"]",
           "<13>1 - - - - - x",
           "<13>1 - - - - -x",
           "<13>1 - - - - thisisamsgidthatislongerthan32chars -",
       }) {
    EXPECT_FALSE(ParseRfc5424(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseRfc5424("<13>1       First").status().message(),
            "expecting a RFC3339MICRO timestamp or a nil value [col 6]");
}

TEST(Rfc3164Test, Examples) {
  auto m =
      ParseRfc3164("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->facility(), 4);
  EXPECT_EQ(m->severity(), 2);
  EXPECT_EQ(*m->hostname, "mymachine");
  EXPECT_EQ(*m->app_name, "su");
  EXPECT_FALSE(m->proc_id.has_value());
  EXPECT_EQ(*m->message, "'su root' failed for lonvick on /dev/pts/8");
  absl::CivilSecond cs = absl::ToCivilSecond(*m->timestamp, absl::UTCTimeZone());
  EXPECT_EQ(cs, absl::CivilSecond(0, 10, 11, 22, 14, 15));

  auto p = ParseRfc3164("<13>Feb  5 17:32:18 10.0.0.99 sshd[1234]: Accepted publickey");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p->hostname, "10.0.0.99");
  EXPECT_EQ(*p->app_name, "sshd");
  EXPECT_EQ(*p->proc_id, "1234");
  EXPECT_EQ(*p->message, "Accepted publickey");

  auto plain = ParseRfc3164("<13>Dec  1 00:00:00 host Message");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain->hostname, "host");
  EXPECT_FALSE(plain->app_name.has_value());
  EXPECT_EQ(*plain->message, "Message");

  auto empty = ParseRfc3164("<13>Dec  1 00:00:00");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->message.has_value());
}

TEST(Rfc3164Test, Errors) {
  for (const char* bad :
       {"<13>", "<13>Foo  1 00:00:00 h m", "<13>Dec 32 00:00:00 h m", "<13>Dec  1 24:00:00 h m",
        "<13>Dec 01 00:00:00 h m", "<13>Feb 30 00:00:00 h m", "<13>Dec  1 00:00:00x"}) {
    EXPECT_FALSE(ParseRfc3164(bad).ok()) << bad;
  }
}

TEST(Rfc3164Test, YearInference) {
  auto stamp = [](int mo) {
    return absl::FromCivil(absl::CivilSecond(0, mo, 1, 0, 0, 0), absl::UTCTimeZone());
  };
  auto now = [](int y, int mo) {
    return absl::FromCivil(absl::CivilSecond(y, mo, 15, 12, 0, 0), absl::UTCTimeZone());
  };
  auto year = [](absl::Time t) { return absl::ToCivilSecond(t, absl::UTCTimeZone()).year(); };
  EXPECT_EQ(year(InferSyslogYear(stamp(12), now(2026, 1))), 2025);
  EXPECT_EQ(year(InferSyslogYear(stamp(1), now(2025, 12))), 2026);
  EXPECT_EQ(year(InferSyslogYear(stamp(6), now(2026, 6))), 2026);
}

TEST(SyslogStreamTest, OctetCounting) {
  Results r = Stream("23 <13>1 - - - - - - First24 <13>1 - - - - - - Second");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(*r[0]->message, "First");
  EXPECT_EQ(*r[1]->message, "Second");
}

TEST(SyslogStreamTest, OctetCountingByteByByte) {
  Results r =
      Stream("23 <13>1 - - - - - - First\n24 <13>1 - - - - - - Second", {}, 8192, nullptr, 1);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(*r[1]->message, "Second");
}

TEST(SyslogStreamTest, OctetCountingTooLong) {
  absl::Status st;
  Results r = Stream("8198 <13>1 - - - - - - First", {}, 8192, &st);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(st.message(), "message length (8198) exceeds maximum length (8192)");
}

TEST(SyslogStreamTest, OctetCountingCutShort) {
  Results r = Stream("40 <13>1 - - - - - - First");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_FALSE(r[0].ok());
}

TEST(SyslogStreamTest, NewlineSeparated) {
  Results r = Stream("<13>1 - - - - - - First\n<13>1 - - - - - - Second\n", {}, 8192, nullptr, 3);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(*r[0]->message, "First");
  EXPECT_EQ(*r[1]->message, "Second");
  // The last line needs no newline.
  Results last = Stream("<13>1 - - - - - - Only");
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(*last[0]->message, "Only");
}

TEST(SyslogStreamTest, NewlineBadLineCountedOthersKept) {
  Results r = Stream("<13>1 - - - - - - a\ngarbage\n<13>1 x\n<13>1 - - - - - - b\n");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_TRUE(r[0].ok());
  EXPECT_FALSE(r[1].ok());
  EXPECT_FALSE(r[2].ok());
  EXPECT_EQ(*r[3]->message, "b");
}

TEST(SyslogStreamTest, NewlineOverlongLineDropped) {
  std::string big = "<13>1 - - - - - - " + std::string(100, 'x');
  Results r = Stream(big + "\n<13>1 - - - - - - ok\n", {}, 64, nullptr, 7);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_FALSE(r[0].ok());
  EXPECT_EQ(*r[1]->message, "ok");
}

TEST(SyslogStreamTest, InvalidFraming) {
  absl::Status st;
  Results r = Stream("invalid", {}, 8192, &st);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(st.message(), "invalid or unsupported framing. first byte: 'i'");
}

TEST(SyslogStreamTest, Rfc3164Framed) {
  Results r = Stream("<13>Dec  1 00:00:00 host Message\n", SyslogStream::Format::kRfc3164);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r[0].ok());
  EXPECT_EQ(*r[0]->message, "Message");
}

}  // namespace
}  // namespace sluice
