#include "agent/common/units.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(UnitsTest, ByteSizes) {
  EXPECT_EQ(*ParseByteSize("123"), 123u);
  EXPECT_EQ(*ParseByteSize("1KB"), 1024u);  // as Alloy: KB is KiB
  EXPECT_EQ(*ParseByteSize("1KiB"), 1024u);
  EXPECT_EQ(*ParseByteSize("8MiB"), 8u * 1024 * 1024);
  EXPECT_EQ(*ParseByteSize("2Gi"), 2ull * 1024 * 1024 * 1024);
  EXPECT_EQ(*ParseByteSize("5MB"), 5u * 1024 * 1024);
  EXPECT_EQ(*ParseByteSize("1GB"), *ParseByteSize("1GiB"));
  // One meaning of a size everywhere: the command line agrees with a config's batch_size.
  for (const char* s : {"1KB", "1MB", "1GB", "3KiB", "8MiB"}) {
    EXPECT_EQ(static_cast<int64_t>(*ParseByteSize(s)), *ParseBase2Bytes(s)) << s;
  }
  EXPECT_FALSE(ParseByteSize("").ok());
  EXPECT_FALSE(ParseByteSize("-1").ok());
  EXPECT_FALSE(ParseByteSize("1.5MiB").ok());
  EXPECT_FALSE(ParseByteSize("10XB").ok());
  EXPECT_FALSE(ParseByteSize("99999999999999999999").ok());
  EXPECT_FALSE(ParseByteSize("17179869184GiB").ok());
}

TEST(UnitsTest, Durations) {
  EXPECT_EQ(*ParseDurationArg("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseDurationArg("1s"), absl::Seconds(1));
  EXPECT_EQ(*ParseDurationArg("5m"), absl::Minutes(5));
  EXPECT_EQ(*ParseDurationArg("0"), absl::ZeroDuration());
  EXPECT_FALSE(ParseDurationArg("-1s").ok());
  EXPECT_FALSE(ParseDurationArg("soon").ok());
  EXPECT_FALSE(ParseDurationArg("10").ok());
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(ParseBase2BytesTest, AlloysUnitsAreAllPowersOf1024) {
  EXPECT_EQ(*ParseBase2Bytes("1MiB"), 1 << 20);
  EXPECT_EQ(*ParseBase2Bytes("1MB"), 1 << 20);
  EXPECT_EQ(*ParseBase2Bytes("512KB"), 512 * 1024);
  EXPECT_EQ(*ParseBase2Bytes("1.5KiB"), 1536);
  EXPECT_EQ(*ParseBase2Bytes("1KiB512B"), 1536);
  EXPECT_EQ(*ParseBase2Bytes("0"), 0);
  EXPECT_EQ(*ParseBase2Bytes("-2KB"), -2048);
  EXPECT_EQ(ParseBase2Bytes("1024").status().message(), "units: unknown unit  in 1024");
  EXPECT_EQ(ParseBase2Bytes("1XB").status().message(), "units: unknown unit XB in 1XB");
  EXPECT_EQ(ParseBase2Bytes("").status().message(), "units: invalid ");
  EXPECT_FALSE(ParseBase2Bytes("1KiB1KB").ok());  // one family per value, as Go's
  EXPECT_EQ(ParseBase2Bytes("99EiB").status().message(), "units: overflow parsing unit");
}

}  // namespace
}  // namespace sluice
