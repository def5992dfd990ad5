// Decompressor, Transcoder and DetectBom on their own: compressed streams made here with zlib and
// libbz2, encoded text made by hand (byte by byte, so the expectations do not come from iconv).
#include "agent/source/file_transform.h"

#include <bzlib.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <string>
#include <tuple>
#include <vector>

#include "tests/support/compress.h"
#include "tests/support/temp_dir.h"

namespace sluice {
namespace {

using ::sluice::testing::AppendFile;
using ::sluice::testing::Gzip;
using ::sluice::testing::TempDir;
using ::sluice::testing::WriteFile;
using ::sluice::testing::Zlib;

std::string Bzip2(std::string_view data) {
  std::string out(data.size() + data.size() / 100 + 700, '\0');
  unsigned len = static_cast<unsigned>(out.size());
  EXPECT_EQ(BZ2_bzBuffToBuffCompress(out.data(), &len, const_cast<char*>(data.data()),
                                     static_cast<unsigned>(data.size()), 1, 0, 0),
            BZ_OK);
  out.resize(len);
  return out;
}

// Lines that do not compress to nothing: a counter and some varied text.
std::string SomeLines(int n, std::string_view tag) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += std::string(tag) + " line " + std::to_string(i) + " level=info msg=\"x" +
           std::to_string(i * 7919 % 1000) + "\"\n";
  }
  return out;
}

// Everything the decompressor gives for the file, with small reads (as a busy tail would).
std::string InflateAll(const std::string& path, Compression c, Decompressor::State* last,
                       int64_t skip = 0, size_t cap = 1000) {
  auto d = Decompressor::Create(c);
  EXPECT_TRUE(d.ok());
  (*d)->SkipTo(skip);
  int fd = ::open(path.c_str(), O_RDONLY);
  std::string out;
  std::vector<char> buf(cap);
  int64_t expect_base = skip;
  for (int i = 0; i < 100000; ++i) {
    size_t n = 0;
    int64_t base = -1;
    *last = (*d)->Read(fd, buf.data(), buf.size(), &n, &base);
    if (n > 0) {
      EXPECT_EQ(base, expect_base);
      expect_base += static_cast<int64_t>(n);
      out.append(buf.data(), n);
    }
    if (*last != Decompressor::State::kData) break;
  }
  ::close(fd);
  return out;
}

TEST(DecompressorTest, GzipMembersZlibAndBzip2ReadWhole) {
  TempDir dir;
  std::string a = SomeLines(3000, "a"), b = SomeLines(500, "b");
  Decompressor::State last;
  // Two gzip members, as `cat a.gz b.gz` makes: one stream of both (Go's reader does the same).
  WriteFile(dir.Join("x.gz"), Gzip(a) + Gzip(b));
  EXPECT_EQ(InflateAll(dir.Join("x.gz"), Compression::kGzip, &last), a + b);
  EXPECT_EQ(last, Decompressor::State::kEnd);
  WriteFile(dir.Join("x.z"), Zlib(a));
  EXPECT_EQ(InflateAll(dir.Join("x.z"), Compression::kZlib, &last), a);
  EXPECT_EQ(last, Decompressor::State::kEnd);
  WriteFile(dir.Join("x.bz2"), Bzip2(a) + Bzip2(b));
  EXPECT_EQ(InflateAll(dir.Join("x.bz2"), Compression::kBzip2, &last), a + b);
  EXPECT_EQ(last, Decompressor::State::kEnd);
}

TEST(DecompressorTest, SkipToResumesInTheDecompressedBytes) {
  TempDir dir;
  std::string a = SomeLines(2000, "a");
  WriteFile(dir.Join("x.gz"), Gzip(a));
  Decompressor::State last;
  for (int64_t skip : {int64_t{0}, int64_t{1}, int64_t{999}, int64_t{1000}, int64_t{40001},
                       static_cast<int64_t>(a.size())}) {
    EXPECT_EQ(InflateAll(dir.Join("x.gz"), Compression::kGzip, &last, skip, 4096),
              a.substr(static_cast<size_t>(skip)))
        << skip;
    EXPECT_EQ(last, Decompressor::State::kEnd);
  }
}

TEST(DecompressorTest, StreamCutShortWaitsThenContinuesWhenTheRestIsWritten) {
  TempDir dir;
  std::string a = SomeLines(4000, "a");
  std::string gz = Gzip(a);
  std::string path = dir.Join("x.gz");
  WriteFile(path, gz.substr(0, gz.size() / 2));
  auto d = Decompressor::Create(Compression::kGzip);
  ASSERT_TRUE(d.ok());
  int fd = ::open(path.c_str(), O_RDONLY);
  std::string out;
  std::vector<char> buf(8192);
  Decompressor::State s;
  do {
    size_t n = 0;
    int64_t base = 0;
    s = (*d)->Read(fd, buf.data(), buf.size(), &n, &base);
    out.append(buf.data(), n);
  } while (s == Decompressor::State::kData);
  EXPECT_EQ(s, Decompressor::State::kWaiting) << "half a stream: the file may still be written";
  EXPECT_LT(out.size(), a.size());
  EXPECT_EQ(out, a.substr(0, out.size()));
  AppendFile(path, gz.substr(gz.size() / 2));
  do {
    size_t n = 0;
    int64_t base = 0;
    s = (*d)->Read(fd, buf.data(), buf.size(), &n, &base);
    out.append(buf.data(), n);
  } while (s == Decompressor::State::kData);
  EXPECT_EQ(s, Decompressor::State::kEnd);
  EXPECT_EQ(out, a);
  ::close(fd);
}

TEST(DecompressorTest, CorruptDataIsAnErrorAfterWhatCouldBeRead) {
  TempDir dir;
  std::string gz = Gzip(SomeLines(100, "a"));
  gz[gz.size() / 2] ^= 0x55;
  gz[gz.size() / 2 + 1] ^= 0x55;
  WriteFile(dir.Join("x.gz"), gz);
  Decompressor::State last;
  InflateAll(dir.Join("x.gz"), Compression::kGzip, &last);
  EXPECT_EQ(last, Decompressor::State::kError);
  WriteFile(dir.Join("y.gz"), "this is not gzip at all\n");
  InflateAll(dir.Join("y.gz"), Compression::kGzip, &last);
  EXPECT_EQ(last, Decompressor::State::kError);
  WriteFile(dir.Join("y.bz2"), "BZh9 nor is this bzip2 data, not at all\n");
  InflateAll(dir.Join("y.bz2"), Compression::kBzip2, &last);
  EXPECT_EQ(last, Decompressor::State::kError);
}

TEST(DecompressorTest, FormatNamesAreAlloys) {
  EXPECT_EQ(ParseCompression("gz"), Compression::kGzip);
  EXPECT_EQ(ParseCompression("z"), Compression::kZlib);
  EXPECT_EQ(ParseCompression("bz2"), Compression::kBzip2);
  EXPECT_EQ(ParseCompression("zip"), std::nullopt);
  EXPECT_EQ(ParseCompression("gzip"), std::nullopt);
}

TEST(DetectBomTest, MarksAsAlloyReadsThem) {
  EXPECT_EQ(DetectBom("\xEF\xBB\xBFhi").length, 3u);
  EXPECT_EQ(DetectBom("\xEF\xBB\xBFhi").encoding, "");
  EXPECT_EQ(DetectBom("\xFE\xFF\x00h").encoding, "UTF-16BE");
  EXPECT_EQ(DetectBom("\xFF\xFEh\x00").encoding, "UTF-16LE");
  EXPECT_EQ(DetectBom("\xFF\xFEh\x00").length, 2u);
  EXPECT_EQ(DetectBom("hello").length, 0u);
  EXPECT_EQ(DetectBom("").length, 0u);
}

// UTF-16LE of ASCII text, by hand.
std::string Utf16Le(std::string_view ascii) {
  std::string out;
  for (char ch : ascii) {
    out.push_back(ch);
    out.push_back('\0');
  }
  return out;
}

struct Line {
  std::string text;
  int64_t start, end;
  bool operator==(const Line&) const = default;
};

std::vector<Line> SplitAll(Transcoder* t, const std::string& data, size_t chunk, int64_t align,
                           size_t raw_limit, uint64_t* cut, uint64_t* invalid, bool flush = false) {
  std::vector<Line> out;
  EncodedCarry carry;
  auto on_line = [&](std::string_view s, int64_t a, int64_t b) {
    out.push_back(Line{std::string(s), a, b});
  };
  for (size_t pos = static_cast<size_t>(align); pos < data.size(); pos += chunk) {
    size_t n = std::min(chunk, data.size() - pos);
    t->Split(&carry, data.data() + pos, n, static_cast<int64_t>(pos), align, raw_limit, cut,
             invalid, on_line);
  }
  if (flush) t->Flush(&carry, static_cast<int64_t>(data.size()), invalid, on_line);
  return out;
}

TEST(TranscoderTest, Utf16LinesSplitOnTheEncodedNewlineWhateverTheReadSizes) {
  auto t = Transcoder::Create("UTF-16LE");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->unit(), 2u);
  // "café" has a non-ASCII character: é is E9 00 in UTF-16LE. Line two ends in CRLF.
  std::string data = "\xFF\xFE" + Utf16Le("caf") + std::string("\xE9\x00", 2) + Utf16Le("\n") +
                     Utf16Le("two\r\n") + Utf16Le("\n") + Utf16Le("last");
  std::vector<Line> want = {{"café", 2, 12}, {"two", 12, 22}, {"", 22, 24}, {"last", 24, 32}};
  for (size_t chunk : {1, 2, 3, 5, 7, 64}) {
    uint64_t cut = 0, invalid = 0;
    EXPECT_EQ(SplitAll(t->get(), data, chunk, 2, 1024, &cut, &invalid, /*flush=*/true), want)
        << "reads of " << chunk;
    EXPECT_EQ(cut, 0u);
    EXPECT_EQ(invalid, 0u);
  }
}

TEST(TranscoderTest, NewlineBytesAcrossCodeUnitsAreNotANewline) {
  // U+0A41 then U+0100: bytes 41 0A 00 01 — "\n\0" at an odd offset is not a newline.
  auto t = Transcoder::Create("utf-16le");
  ASSERT_TRUE(t.ok());
  std::string data = std::string("\x41\x0A\x00\x01", 4) + Utf16Le("\n");
  uint64_t cut = 0, invalid = 0;
  std::vector<Line> got = SplitAll(t->get(), data, 64, 0, 1024, &cut, &invalid);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, "\xE0\xA9\x81\xC4\x80");  // U+0A41 U+0100 in UTF-8
  EXPECT_EQ(got[0].end, 6);
}

TEST(TranscoderTest, Utf16WithoutAMarkIsBigEndian) {
  auto t = Transcoder::Create("UTF-16");
  ASSERT_TRUE(t.ok());
  uint64_t cut = 0, invalid = 0;
  std::string data = std::string("\x00h\x00i\x00\n", 6);
  std::vector<Line> got = SplitAll(t->get(), data, 64, 0, 1024, &cut, &invalid);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, "hi");
}

TEST(TranscoderTest, SingleByteEncodingsAndInvalidSequences) {
  auto latin1 = Transcoder::Create("ISO-8859-1");
  ASSERT_TRUE(latin1.ok());
  uint64_t cut = 0, invalid = 0;
  std::vector<Line> got =
      SplitAll(latin1->get(), "caf\xE9\nna\xEFve\r\n", 4, 0, 1024, &cut, &invalid);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].text, "café");
  EXPECT_EQ(got[1].text, "naïve");
  EXPECT_EQ(got[1].end, 12);
  // Shift_JIS: 0x82 0xA0 is あ; a lone lead byte at the end is not a character.
  auto sjis = Transcoder::Create("Shift_JIS");
  ASSERT_TRUE(sjis.ok());
  got = SplitAll(sjis->get(), "\x82\xA0 ok\n\x82\n", 64, 0, 1024, &cut, &invalid);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].text, "あ ok");
  EXPECT_EQ(got[1].text, "\xEF\xBF\xBD");
  EXPECT_EQ(invalid, 1u);
}

TEST(TranscoderTest, LongLinesAreCutAndCountedOnce) {
  auto t = Transcoder::Create("UTF-16LE");
  ASSERT_TRUE(t.ok());
  std::string data = Utf16Le(std::string(100, 'x') + "\nshort\n");
  for (size_t chunk : {6, 64, 1000}) {
    uint64_t cut = 0, invalid = 0;
    std::vector<Line> got = SplitAll(t->get(), data, chunk, 0, 20, &cut, &invalid);
    ASSERT_EQ(got.size(), 2u) << chunk;
    EXPECT_EQ(got[0].text, std::string(10, 'x')) << chunk;
    EXPECT_EQ(got[0].end, 202);
    EXPECT_EQ(got[1].text, "short");
    EXPECT_EQ(cut, 1u) << chunk;
  }
}

TEST(TranscoderTest, UnknownEncodingIsAnError) {
  auto t = Transcoder::Create("no-such-encoding");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "unknown encoding \"no-such-encoding\"");
  EXPECT_TRUE(Transcoder::Create("windows-1252").ok());
  EXPECT_TRUE(Transcoder::Create("UTF-16BE").ok());
  EXPECT_TRUE(Transcoder::Create("UTF-32LE").ok());
}

}  // namespace
}  // namespace sluice
