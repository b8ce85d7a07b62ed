#include "worker/engine/tokenizer/unicode_tables.h"

#include <gtest/gtest.h>

#include "worker/engine/tokenizer/byte_level.h"

namespace quantd::engine::tokenizer::internal {
namespace {

TEST(UnicodeTablesTest, GeneralCategories) {
  EXPECT_TRUE(IsPunctuation(U'-'));
  EXPECT_TRUE(IsPunctuation(U'\u2014'));   // Em dash.
  EXPECT_TRUE(IsPunctuation(U'$'));        // ASCII symbols count too.
  EXPECT_FALSE(IsPunctuation(U'\u20AC'));  // A non-ASCII symbol does not.
  EXPECT_FALSE(IsPunctuation(U'a'));
  EXPECT_TRUE(IsOther(U'\u0001'));
  EXPECT_TRUE(IsOther(U'\u200B'));      // Cf.
  EXPECT_TRUE(IsOther(U'\U000E0001'));  // Cf, astral.
  EXPECT_FALSE(IsOther(0x0378));        // Unassigned: HF keeps it.
  EXPECT_FALSE(IsOther(U'a'));
  EXPECT_TRUE(IsMarkNonspacing(U'\u0301'));
  EXPECT_FALSE(IsMarkNonspacing(U'\u0903'));  // Mc.
  EXPECT_TRUE(IsWhitespace(U'\u3000'));
  EXPECT_TRUE(IsWhitespace(U'\u0085'));
  EXPECT_FALSE(IsWhitespace(U'\u200B'));
  EXPECT_EQ(CombiningClass(U'\u0301'), 230);
  EXPECT_EQ(CombiningClass(U'\u0323'), 220);
  EXPECT_EQ(CombiningClass(U'a'), 0);
}

TEST(UnicodeTablesTest, NfdDecomposesFullyAndOrdersMarks) {
  EXPECT_EQ(Nfd(U"\u00E9"), U"e\u0301");
  // U+1E69 = s + dot below + dot above, recursively.
  EXPECT_EQ(Nfd(U"\u1E69"), U"s\u0323\u0307");
  // Marks are reordered by combining class: below (220) before above (230).
  EXPECT_EQ(Nfd(U"q\u0307\u0323"), U"q\u0323\u0307");
  // Hangul syllables decompose algorithmically: 한 = ᄒ ᅡ ᆫ.
  EXPECT_EQ(Nfd(U"\uD55C"), U"\u1112\u1161\u11AB");
  EXPECT_EQ(Nfd(U"\uAC00"), U"\u1100\u1161");
  EXPECT_EQ(Nfd(U"plain"), U"plain");
}

TEST(UnicodeTablesTest, LowercaseIsPerCharacter) {
  std::u32string out;
  for (char32_t cp : std::u32string(U"AZ\u0130\u03A3\u00C9\U00010400")) {
    AppendLowercase(cp, out);
  }
  EXPECT_EQ(out,
            U"az"
            U"i\u0307"
            U"\u03C3\u00E9\U00010428");
}

TEST(UnicodeTablesTest, Utf8DecodingRejectsInvalidForms) {
  EXPECT_EQ(DecodeUtf8("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"),
            U"a\u00E9\u20AC\U0001F600");
  // Overlong, surrogate, out of range, truncated, stray continuation.
  EXPECT_EQ(DecodeUtf8("\xC0\x80"), U"\uFFFD\uFFFD");
  EXPECT_EQ(DecodeUtf8("\xED\xA0\x80"), U"\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(DecodeUtf8("\xF4\x90\x80\x80"), U"\uFFFD\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(DecodeUtf8("\xE2\x82"), U"\uFFFD\uFFFD");
  EXPECT_EQ(DecodeUtf8("\x80z"), U"\uFFFDz");
  std::string encoded;
  for (char32_t cp : std::u32string(U"a\u00E9\u20AC\U0001F600")) {
    AppendUtf8(cp, encoded);
  }
  EXPECT_EQ(encoded, "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
}

TEST(ByteLevelTest, MatchesGpt2AndRoundTripsEveryByte) {
  EXPECT_EQ(ByteToUnicode()[' '], U'\u0120');   // "Ġ"
  EXPECT_EQ(ByteToUnicode()['\n'], U'\u010A');  // "Ċ"
  EXPECT_EQ(ByteToUnicode()['A'], U'A');
  EXPECT_EQ(ByteToUnicode()[0xAD], U'\u0143');  // The last one assigned.
  std::string all;
  for (int b = 0; b < 256; ++b) {
    all.push_back(static_cast<char>(b));
  }
  std::string back;
  ASSERT_TRUE(ByteLevelDecode(ByteLevelEncode(all), back));
  EXPECT_EQ(back, all);
  EXPECT_FALSE(ByteLevelDecode(" ", back));  // A raw space is not byte-level.
  std::string euro;
  EXPECT_FALSE(ByteLevelDecode("\xE2\x82\xAC", euro));
}

}  // namespace
}  // namespace quantd::engine::tokenizer::internal
