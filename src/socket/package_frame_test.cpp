// SPDX-License-Identifier: Apache-2.0
#include "socket/package_frame.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace beehive {
namespace {

// A Go record (capture A), as a payload.
constexpr std::string_view go_record =
    R"({"header":{"msg_id":"709147fd-2bfb-49ee-bda7-aef80690d16f","parent_msg_id":)"
    R"("79319fb7-7f78-4be3-91e1-a78d49e4301c","timestamp":1795721459883,"type":"unixpacket"},)"
    R"("route":{"source":"remotemod","destination":"remotemod","operation":"response",)"
    R"("resource":"resource"},"content":"pong"})";

// ---- package framing ----

TEST(Framing, WritesMagicVersionAndBigEndianLength) {
  char h[detail::package_header_size];
  detail::write_package_header(0x01020304, h);
  EXPECT_EQ(std::string(h, sizeof h), std::string("beehv1rv\x01\x02\x03\x04", 12));
  std::string out = "x";
  detail::append_package("abc", out);
  EXPECT_EQ(out, std::string("xbeehv1rv\0\0\0\x03"
                             "abc",
                             16));
}

TEST(Framing, ReadsHeader) {
  std::string f;
  detail::append_package(std::string(300, 'p'), f);
  EXPECT_EQ(detail::read_package_header(f.substr(0, 12), 1000).value(), 300U);
  EXPECT_EQ(detail::read_package_header(f.substr(0, 12), 300).value(), 300U);
  auto big = detail::read_package_header(f.substr(0, 12), 299);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), errc::message_too_large);
}

TEST(Framing, RejectsWrongMagicOrVersion) {
  for (const auto& h : {std::string("beeXv1rv\0\0\0\1", 12), std::string("beehv2rv\0\0\0\1", 12),
                        std::string("beehv1rx\0\0\0\1", 12), std::string("BEEHv1rv\0\0\0\1", 12),
                        std::string("beehv1r", 7)}) {
    auto r = detail::read_package_header(h, 100);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::protocol_error);
  }
}

std::vector<std::string> drain(detail::frame_decoder& d) {
  std::vector<std::string> got;
  for (;;) {
    auto r = d.next();
    EXPECT_TRUE(r) << r.error().message();
    if (!r || !*r) return got;
    got.emplace_back(**r);
  }
}

TEST(Framing, DecoderYieldsSeveralFramesFromOneAppend) {
  std::string stream;
  detail::append_package("one", stream);
  detail::append_package("", stream);
  detail::append_package(go_record, stream);
  detail::frame_decoder d(1 << 20);
  d.append(stream);
  EXPECT_EQ(drain(d), (std::vector<std::string>{"one", "", std::string(go_record)}));
  EXPECT_EQ(d.buffered(), 0U);
}

TEST(Framing, DecoderHandlesFramesSplitAtEveryBoundary) {
  std::string stream;
  detail::append_package("first", stream);
  detail::append_package(go_record, stream);
  detail::append_package("x", stream);
  const std::vector<std::string> want = {"first", std::string(go_record), "x"};
  for (std::size_t a = 0; a <= stream.size(); ++a) {
    for (std::size_t b = a; b <= stream.size(); b += 7) {
      detail::frame_decoder d(1024);
      std::vector<std::string> got;
      for (auto piece : {stream.substr(0, a), stream.substr(a, b - a), stream.substr(b)}) {
        d.append(piece);
        auto more = drain(d);
        got.insert(got.end(), more.begin(), more.end());
      }
      ASSERT_EQ(got, want) << "split at " << a << "," << b;
      EXPECT_EQ(d.buffered(), 0U);
    }
  }
}

TEST(Framing, DecoderReportsPartialFrameAsBuffered) {
  std::string stream;
  detail::append_package("payload", stream);
  detail::frame_decoder d(100);
  d.append(stream.substr(0, 15));
  auto r = d.next();
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  EXPECT_EQ(d.buffered(), 15U);
}

TEST(Framing, DecoderRejectsWrongMagicAsSoonAsItArrives) {
  detail::frame_decoder d(100);
  d.append("GET");
  auto r = d.next();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::protocol_error);
}

TEST(Framing, DecoderRejectsWrongVersion) {
  detail::frame_decoder d(100);
  d.append(std::string("beehv9rv\0\0\0\1x", 13));
  auto r = d.next();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::protocol_error);
}

TEST(Framing, DecoderRejectsOversizedFrameBeforeItsPayloadArrives) {
  std::string stream;
  detail::append_package(std::string(101, 'x'), stream);
  detail::frame_decoder d(100);
  d.append(stream.substr(0, 12));
  auto r = d.next();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::message_too_large);
}

TEST(Framing, FailedDecoderKeepsFailing) {
  detail::frame_decoder d(100);
  std::string good;
  detail::append_package("ok", good);
  d.append("xxxxxxxxxxxxxxxx");
  ASSERT_FALSE(d.next());
  d.append(good);
  for (int i = 0; i < 3; ++i) {
    auto r = d.next();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::protocol_error);
  }
}

TEST(Framing, FramesAfterAFailureAreNotDelivered) {
  std::string stream;
  detail::append_package("good", stream);
  detail::append_package(std::string(50, 'x'), stream);
  detail::append_package("never", stream);
  detail::frame_decoder d(10);
  d.append(stream);
  auto first = d.next();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ(**first, "good");
  auto second = d.next();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), errc::message_too_large);
  EXPECT_EQ(d.next().error(), errc::message_too_large);
}

TEST(Framing, DecoderReusesItsBufferAcrossManyFrames) {
  detail::frame_decoder d(64);
  for (int i = 0; i < 1000; ++i) {
    std::string f;
    detail::append_package(std::to_string(i), f);
    d.append(f.substr(0, 5));
    d.append(f.substr(5));
    auto r = d.next();
    ASSERT_TRUE(r && *r);
    EXPECT_EQ(**r, std::to_string(i));
  }
  EXPECT_EQ(d.buffered(), 0U);
}

}  // namespace
}  // namespace beehive
