// skiff_codec_replay: the codec fuzzer without libFuzzer, built with any compiler.
//
//   skiff_codec_replay PATH...            run LLVMFuzzerTestOneInput on every file (directories:
//                                         every file in them, sorted); a bad input aborts
//   skiff_codec_replay --write-corpus DIR write the seed corpus: valid frames of every kind and
//                                         message type, streams of several, and broken variants
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "skiff/codec/codec.h"
#include "skiff/conf_change.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;
using namespace skiff;

int run_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string data(fs::file_size(path), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
  return 1;
}

void write(const fs::path& dir, const std::string& name, char piece, const std::string& stream) {
  std::ofstream(dir / name, std::ios::binary) << piece << stream;
}

int write_corpus(const fs::path& dir) {
  fs::create_directories(dir);
  ConfState cs;
  cs.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
  cs.learners = {NodeId{4}};
  std::string all;
  for (int t = 1; t <= 13; ++t) {
    Message m;
    m.type = static_cast<MessageType>(t);
    m.from = NodeId{1};
    m.to = NodeId{2};
    m.term = Term{3};
    m.log_term = Term{2};
    m.index = Index{10};
    m.commit = Index{9};
    if (m.type == MessageType::kAppend || m.type == MessageType::kPropose) {
      m.entries = {Entry{Term{3}, Index{11}, EntryType::kNormal, Bytes("x")},
                   Entry{Term{3}, Index{12}, EntryType::kConfChange,
                         encode_conf_change_entry(ConfChangeEntry{{}, cs})}};
    }
    if (m.type == MessageType::kSnapshot) {
      m.snapshot.meta = SnapshotMeta{EntryId{Term{2}, Index{8}}, cs};
      m.snapshot.data = Bytes("state");
    }
    const std::string frame = codec::encode_frame(m);
    write(dir, "message-" + std::to_string(t), 63, frame);
    all += frame;
  }
  const std::string hello = codec::encode_frame(codec::Hello{7, NodeId{2}});
  const std::string reply = codec::encode_frame(codec::HelloReply{false, 7, NodeId{1}, "no"});
  codec::SnapshotChunk chunk;
  chunk.from = NodeId{1};
  chunk.to = NodeId{2};
  chunk.term = Term{3};
  chunk.snapshot = EntryId{Term{2}, Index{8}};
  chunk.data = Bytes("chunk");
  chunk.last = true;
  const std::string chunk_frame = codec::encode_frame(chunk);
  write(dir, "hello", 5, hello);
  write(dir, "hello-reply", 5, reply);
  write(dir, "snapshot-chunk", 5, chunk_frame);
  write(dir, "stream-bytewise", 0, hello + all + chunk_frame + reply);
  std::string bad = all;
  bad[3] = 'X';
  write(dir, "bad-magic", 10, bad);
  bad = hello;
  bad[bad.size() - 1] ^= 1;
  write(dir, "bad-checksum", 10, bad);
  bad = hello;
  bad[11] = '\x7f';
  write(dir, "huge-length", 10, bad);
  write(dir, "truncated", 10, all.substr(0, all.size() - 3));
  write(dir, "empty-stream", 1, "");

  // Whole connections as the transport's sessions see them (node 2 to node 1, cluster 42).
  const codec::SnapshotStatus status{NodeId{1}, NodeId{2}, EntryId{Term{2}, Index{8}}, true, {}};
  write(dir, "snapshot-status", 5, codec::encode_frame(status));
  std::string session = codec::encode_frame(codec::Hello{42, NodeId{2}});
  std::string snapshot_stream;
  for (int t = 1; t <= 13; ++t) {
    Message m;
    m.type = static_cast<MessageType>(t);
    m.from = NodeId{2};
    m.to = NodeId{1};
    m.term = Term{3};
    m.index = Index{10};
    if (m.type == MessageType::kSnapshot) {
      m.snapshot.meta = SnapshotMeta{EntryId{Term{2}, Index{8}}, cs};  // data streams
      snapshot_stream = codec::encode_frame(m);
      continue;
    }
    session += codec::encode_frame(m);
  }
  for (std::uint64_t offset = 0; offset < 12; offset += 4) {
    codec::SnapshotChunk c;
    c.from = NodeId{2};
    c.to = NodeId{1};
    c.term = Term{3};
    c.snapshot = EntryId{Term{2}, Index{8}};
    c.offset = offset;
    c.data = Bytes("abcd");
    c.last = offset == 8;
    snapshot_stream += codec::encode_frame(c);
  }
  write(dir, "session-inbound", 31, session + snapshot_stream);
  write(dir, "session-wrong-cluster", 9, codec::encode_frame(codec::Hello{43, NodeId{2}}));
  write(dir, "session-unknown-node", 9, codec::encode_frame(codec::Hello{42, NodeId{9}}));
  write(dir, "session-outbound", 17,
        codec::encode_frame(codec::HelloReply{true, 42, NodeId{1}, {}}) +
            codec::encode_frame(status));
  write(dir, "session-refused", 17,
        codec::encode_frame(codec::HelloReply{false, 42, NodeId{1}, "not a known peer"}));
  std::printf("wrote the codec seed corpus to %s\n", dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "--write-corpus") {
    return write_corpus(args[1]);
  }
  if (args.empty()) {
    std::fprintf(stderr, "usage: skiff_codec_replay PATH... | --write-corpus DIR\n");
    return 2;
  }
  int inputs = 0;
  for (const std::string& a : args) {
    if (fs::is_directory(a)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(a)) {
        files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const fs::path& f : files) {
        inputs += run_file(f);
      }
    } else {
      inputs += run_file(a);
    }
  }
  std::printf("skiff_codec_replay: %d inputs, no failures\n", inputs);
  return inputs > 0 ? 0 : 2;
}
