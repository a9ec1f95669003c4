// The compiler of nfdump's filter language: a hand-written lexer that mirrors nfdump's scanner
// (words of [A-Za-z0-9_:.-], numbers with k/m/g/t scale, operators), and a recursive-descent
// parser with nfdump's precedence (not > and > or). The tree is built in a scratch form and then
// laid out breadth-first, so every and/or node's children sit next to each other in nodes_.
#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "collector/filter/flow_filter.h"

namespace nf {

namespace {

using Node = FlowFilter::Node;

// Parentheses and `not`s deeper than this are refused: the parser, Matches() and DebugString()
// recurse once per level, and no real filter comes near it.
constexpr int kMaxDepth = 256;

constexpr char kSeeDocs[] = " is not supported (see docs/filters.md)";

enum class Kw : uint8_t {
  kNone,  // not a keyword
  kAnd,
  kOr,
  kNot,
  kEq,
  kLt,
  kGt,
  kLe,
  kGe,
  kAny,
  kIp,
  kNet,
  kPort,
  kAs,
  kMask,
  kVlan,
  kTos,
  kGeo,
  kCountry,
  kIf,
  kIn,
  kOut,
  kSrc,
  kDst,
  kPrev,
  kNext,
  kPackets,
  kBytes,
  kFlows,
  kDuration,
  kPps,
  kBps,
  kBpp,
  kFlags,
  kProto,
  kIpv4,
  kIpv6,
  kIcmpType,
  kIcmpCode,
  kEngineType,
  kEngineId,
  kDir,
  kIngress,
  kEgress,
  kRouter,
  kExporter,
  kObservation,
  kDomain,
  kPoint,
  kId,
  kSampler,
  kNfVersion,
  kLatency,
  kPblock,
  kAsa,
  kNat,
  kEvent,
  kXevent,
  kDenied,
  kXip,
  kXnet,
  kXport,
  kVrf,
  kUnsupported,  // an nfdump term this collector has no data for
};

struct Keyword {
  const char* word;
  Kw kw;
};

// Every word nfdump's scanner reserves that can start or qualify a term, plus ours (country,
// exporter, sampler).
constexpr Keyword kKeywords[] = {
    {"and", Kw::kAnd},
    {"or", Kw::kOr},
    {"not", Kw::kNot},
    {"eq", Kw::kEq},
    {"lt", Kw::kLt},
    {"gt", Kw::kGt},
    {"le", Kw::kLe},
    {"ge", Kw::kGe},
    {"any", Kw::kAny},
    {"ip", Kw::kIp},
    {"host", Kw::kIp},
    {"net", Kw::kNet},
    {"port", Kw::kPort},
    {"as", Kw::kAs},
    {"mask", Kw::kMask},
    {"vlan", Kw::kVlan},
    {"tos", Kw::kTos},
    {"geo", Kw::kGeo},
    {"country", Kw::kCountry},
    {"if", Kw::kIf},
    {"in", Kw::kIn},
    {"out", Kw::kOut},
    {"src", Kw::kSrc},
    {"dst", Kw::kDst},
    {"prev", Kw::kPrev},
    {"previous", Kw::kPrev},
    {"next", Kw::kNext},
    {"packets", Kw::kPackets},
    {"bytes", Kw::kBytes},
    {"flows", Kw::kFlows},
    {"duration", Kw::kDuration},
    {"pps", Kw::kPps},
    {"bps", Kw::kBps},
    {"bpp", Kw::kBpp},
    {"flags", Kw::kFlags},
    {"proto", Kw::kProto},
    {"ipv4", Kw::kIpv4},
    {"inet", Kw::kIpv4},
    {"ipv6", Kw::kIpv6},
    {"inet6", Kw::kIpv6},
    {"icmp-type", Kw::kIcmpType},
    {"icmp-code", Kw::kIcmpCode},
    {"engine-type", Kw::kEngineType},
    {"engine-id", Kw::kEngineId},
    {"dir", Kw::kDir},
    {"flowdir", Kw::kDir},
    {"ingress", Kw::kIngress},
    {"egress", Kw::kEgress},
    {"router", Kw::kRouter},
    {"exporter", Kw::kExporter},
    {"observation", Kw::kObservation},
    {"domain", Kw::kDomain},
    {"point", Kw::kPoint},
    {"id", Kw::kId},
    {"sampler", Kw::kSampler},
    {"nfversion", Kw::kNfVersion},
    {"latency", Kw::kLatency},
    {"pblock", Kw::kPblock},
    // nfdump terms over fields our records do not have.
    {"count", Kw::kUnsupported},
    {"ident", Kw::kUnsupported},
    {"tun", Kw::kUnsupported},
    {"tunip", Kw::kUnsupported},
    {"mac", Kw::kUnsupported},
    {"mpls", Kw::kUnsupported},
    {"payload", Kw::kUnsupported},
    // NSEL and NEL (nfdump: xip and nip, xport and nport are the same translated fields).
    {"asa", Kw::kAsa},
    {"nat", Kw::kNat},
    {"event", Kw::kEvent},
    {"xevent", Kw::kXevent},
    {"denied", Kw::kDenied},
    {"xip", Kw::kXip},
    {"nip", Kw::kXip},
    {"xnet", Kw::kXnet},
    {"xport", Kw::kXport},
    {"nport", Kw::kXport},
    {"vrf", Kw::kVrf},
    {"acl", Kw::kUnsupported},
    {"ace", Kw::kUnsupported},
    {"xace", Kw::kUnsupported},
    {"client", Kw::kUnsupported},
    {"server", Kw::kUnsupported},
    {"app", Kw::kUnsupported},
    {"bgpnext", Kw::kUnsupported},
    {"sysid", Kw::kUnsupported},
    {"fwdstat", Kw::kUnsupported},
    {"flowlabel", Kw::kUnsupported},
};

Kw KeywordOf(absl::string_view word) {
  for (const Keyword& k : kKeywords) {
    if (absl::EqualsIgnoreCase(word, k.word)) return k.kw;
  }
  return Kw::kNone;
}

// nfdump's protocol names (its ProtoNum table, matched case-insensitively, first match wins).
// Names its scanner cannot read as one word ("TP++", "A/N") and pure numbers are left out.
constexpr struct {
  const char* name;
  uint8_t number;
} kProtocols[] = {
    {"ICMP", 1},   {"IGMP", 2},   {"GGP", 3},    {"IPIP", 4},   {"ST", 5},     {"TCP", 6},
    {"CBT", 7},    {"EGP", 8},    {"IGP", 9},    {"BBN", 10},   {"NVPII", 11}, {"PUP", 12},
    {"ARGUS", 13}, {"ENCOM", 14}, {"XNET", 15},  {"CHAOS", 16}, {"UDP", 17},   {"MUX", 18},
    {"DCN", 19},   {"HMP", 20},   {"PRM", 21},   {"XNS", 22},   {"Trnk1", 23}, {"Trnk2", 24},
    {"Leaf1", 25}, {"Leaf2", 26}, {"RDP", 27},   {"IRTP", 28},  {"ISO-4", 29}, {"NETBK", 30},
    {"MFESP", 31}, {"MEINP", 32}, {"DCCP", 33},  {"3PC", 34},   {"IDPR", 35},  {"XTP", 36},
    {"DDP", 37},   {"IL", 40},    {"IPv6", 41},  {"SDRP", 42},  {"Rte6", 43},  {"Frag6", 44},
    {"IDRP", 45},  {"RSVP", 46},  {"GRE", 47},   {"MHRP", 48},  {"BNA", 49},   {"ESP", 50},
    {"AH", 51},    {"INLSP", 52}, {"SWIPE", 53}, {"NARP", 54},  {"MOBIL", 55}, {"TLSP", 56},
    {"SKIP", 57},  {"ICMP6", 58}, {"NOHE6", 59}, {"OPTS6", 60}, {"HOST", 61},  {"CFTP", 62},
    {"NET", 63},   {"SATNT", 64}, {"KLAN", 65},  {"RVD", 66},   {"IPPC", 67},  {"FS", 68},
    {"SATM", 69},  {"VISA", 70},  {"IPCV", 71},  {"CPNX", 72},  {"CPHB", 73},  {"WSN", 74},
    {"PVP", 75},   {"BSATM", 76}, {"SUNND", 77}, {"WBMON", 78}, {"WBEXP", 79}, {"ISOIP", 80},
    {"VMTP", 81},  {"SVMTP", 82}, {"VINES", 83}, {"TTP", 84},   {"NSIGP", 85}, {"DGP", 86},
    {"TCF", 87},   {"EIGRP", 88}, {"OSPF", 89},  {"S-RPC", 90}, {"LARP", 91},  {"MTP", 92},
    {"AX.25", 93}, {"OS", 94},    {"MICP", 95},  {"SCCSP", 96}, {"ETHIP", 97}, {"ENCAP", 98},
    {"GMTP", 100}, {"IFMP", 101}, {"PNNI", 102}, {"PIM", 103},  {"ARIS", 104}, {"SCPS", 105},
    {"QNX", 106},  {"IPcmp", 108}, {"SNP", 109}, {"CpqPP", 110}, {"IPXIP", 111}, {"VRRP", 112},
    {"PGM", 113},  {"0hop", 114}, {"L2TP", 115}, {"DDX", 116},  {"IATP", 117}, {"STP", 118},
    {"SRP", 119},  {"UTI", 120},  {"SMP", 121},  {"SM", 122},   {"PTP", 123},  {"ISIS4", 124},
    {"FIRE", 125}, {"CRTP", 126}, {"CRUDP", 127}, {"IPLT", 129}, {"SPS", 130}, {"PIPE", 131},
    {"SCTP", 132}, {"FC", 133},   {"MHEAD", 135}, {"UDP-L", 136}, {"MPLS", 137},
};

std::optional<uint8_t> ProtocolByName(absl::string_view name) {
  for (const auto& p : kProtocols) {
    if (absl::EqualsIgnoreCase(name, p.name)) return p.number;
  }
  return std::nullopt;
}

bool IsWordChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':' || c == '.' ||
         c == '-';
}

// Characters that end an unquoted interface name (names may hold '/', ':', '.', '@', ...).
bool EndsName(char c) {
  return static_cast<unsigned char>(c) <= ' ' || c == '(' || c == ')' || c == '[' || c == ']' ||
         c == ',' || c == '#' || c == '"' || c == '\'' || c == '&' || c == '|' || c == '!' ||
         c == '=' || c == '<' || c == '>' || c == 0x7f;
}

struct Token {
  enum Type : uint8_t {
    kEnd,
    kWord,      // a word, a number or a keyword (`kw`)
    kOperator,  // && || ! = == < > <= >= (as `kw`)
    kNotEqual,  // != (no such comparator)
    kQuoted,    // 'text' or "text"; `text` excludes the quotes
    kUnterminatedQuote,
    kPunct,  // ( ) [ ] , / % @
    kBad,    // any other character
  };
  Type type = kEnd;
  size_t begin = 0;  // byte offsets into the expression
  size_t end = 0;
  absl::string_view text;
  Kw kw = Kw::kNone;
  // Words: a number in nfdump's forms (decimal, 0x hex, decimal with k/m/g/t for 10^3..10^12).
  bool is_number = false;
  bool number_overflows = false;
  uint64_t number = 0;

  bool Is(Kw k) const { return (type == kWord || type == kOperator) && kw == k; }
  bool IsPunct(char c) const { return type == kPunct && text.size() == 1 && text[0] == c; }
  bool IsComparator() const {
    return (type == kWord || type == kOperator) &&
           (kw == Kw::kEq || kw == Kw::kLt || kw == Kw::kGt || kw == Kw::kLe || kw == Kw::kGe);
  }
  bool IsNumber() const { return type == kWord && is_number && !number_overflows; }
};

// Reads a word as an nfdump number; `overflow` when it does not fit in 64 bits.
void ClassifyNumber(Token& t) {
  absl::string_view w = t.text;
  uint64_t v = 0;
  bool overflow = false;
  auto push = [&](uint64_t base, uint64_t digit) {
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / base) overflow = true;
    v = v * base + digit;
  };
  if (w.size() > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) {
    for (size_t i = 2; i < w.size(); ++i) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(w[i]))) return;
    }
    for (size_t i = 2; i < w.size(); ++i) {
      const char c = absl::ascii_tolower(static_cast<unsigned char>(w[i]));
      push(16, c <= '9' ? static_cast<uint64_t>(c - '0') : static_cast<uint64_t>(c - 'a' + 10));
    }
  } else {
    size_t digits = 0;
    while (digits < w.size() && absl::ascii_isdigit(static_cast<unsigned char>(w[digits]))) {
      ++digits;
    }
    if (digits == 0) return;
    uint64_t scale = 1;
    if (digits + 1 == w.size()) {
      switch (absl::ascii_tolower(static_cast<unsigned char>(w[digits]))) {
        case 'k': scale = 1000; break;
        case 'm': scale = 1000 * 1000; break;
        case 'g': scale = 1000 * 1000 * 1000; break;
        case 't': scale = uint64_t{1000} * 1000 * 1000 * 1000; break;
        default: return;
      }
    } else if (digits != w.size()) {
      return;
    }
    for (size_t i = 0; i < digits; ++i) push(10, static_cast<uint64_t>(w[i] - '0'));
    if (v > std::numeric_limits<uint64_t>::max() / scale) overflow = true;
    v *= scale;
  }
  t.is_number = true;
  t.number_overflows = overflow;
  t.number = v;
}

enum class Qual : uint8_t { kNone, kSrc, kDst, kSrcOrDst, kSrcAndDst, kIn, kOut };

// A compiled address or prefix with how many leading bits the text gave (a partial IPv4 address
// such as 10.1 gives 16; only `net` accepts one).
struct ParsedAddress {
  IpAddress address;
  int bits_given = 0;
};

// A node while parsing: connectives keep their children here until Layout() places them.
struct ScratchNode {
  Node node;
  std::vector<uint32_t> children;
};

}  // namespace

class FilterCompiler {
 public:
  explicit FilterCompiler(absl::string_view expression) : src_(expression) {}

  absl::StatusOr<FlowFilter> Compile() {
    FlowFilter out;
    filter_ = &out;
    if (Peek().type == Token::kEnd) return out;
    uint32_t root = 0;
    if (!ParseOr(false, root)) return error_;
    const Token t = Peek();
    if (t.type != Token::kEnd) {
      if (t.IsPunct(')')) {
        Fail(t, "unmatched ')'");
      } else {
        Fail(t, absl::StrCat("expected 'and' or 'or' before ", Quote(t)));
      }
      return error_;
    }
    Layout(root, out);
    return out;
  }

 private:
  // --- errors ---------------------------------------------------------------------------------

  // 1-based character position of a byte offset (UTF-8 continuation bytes do not count).
  size_t Position(size_t offset) const {
    size_t chars = 0;
    for (size_t i = 0; i < offset && i < src_.size(); ++i) {
      if ((static_cast<unsigned char>(src_[i]) & 0xc0) != 0x80) ++chars;
    }
    return chars + 1;
  }

  bool Fail(const Token& at, absl::string_view message) {
    if (error_.ok()) {
      error_ = absl::InvalidArgumentError(absl::StrCat("at ", Position(at.begin), ": ", message));
    }
    return false;
  }

  bool Expected(const Token& at, absl::string_view what, absl::string_view after) {
    return Fail(at, absl::StrCat("expected ", what, " after '", after, "'"));
  }

  bool Unsupported(const Token& at, absl::string_view what) {
    return Fail(at, absl::StrCat("'", what, "'", kSeeDocs));
  }

  static std::string Quote(const Token& t) {
    if (t.type == Token::kEnd) return "the end of the expression";
    return absl::StrCat("'", absl::Utf8SafeCHexEscape(t.text), "'");
  }

  // --- lexer ----------------------------------------------------------------------------------

  size_t SkipSpace(size_t pos) const {
    while (pos < src_.size()) {
      const char c = src_[pos];
      if (c == '#') {
        while (pos < src_.size() && src_[pos] != '\n') ++pos;
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++pos;
      } else {
        break;
      }
    }
    return pos;
  }

  Token LexAt(size_t pos) const {
    Token t;
    pos = SkipSpace(pos);
    t.begin = pos;
    if (pos >= src_.size()) {
      t.type = Token::kEnd;
      t.end = pos;
      return t;
    }
    const char c = src_[pos];
    const char next = pos + 1 < src_.size() ? src_[pos + 1] : '\0';
    size_t end = pos + 1;
    if (IsWordChar(c)) {
      while (end < src_.size() && IsWordChar(src_[end])) ++end;
      t.type = Token::kWord;
      t.text = src_.substr(pos, end - pos);
      ClassifyNumber(t);
      if (!t.is_number) t.kw = KeywordOf(t.text);
    } else if (c == '\'' || c == '"') {
      const size_t close = src_.find_first_of(absl::string_view(c == '"' ? "\"\n" : "'\n"), end);
      if (close == absl::string_view::npos || src_[close] != c) {
        t.type = Token::kUnterminatedQuote;
        end = close == absl::string_view::npos ? src_.size() : close;
        t.text = src_.substr(pos, end - pos);
      } else {
        t.type = Token::kQuoted;
        t.text = src_.substr(pos + 1, close - pos - 1);
        end = close + 1;
      }
    } else {
      t.type = Token::kOperator;
      switch (c) {
        case '&':
        case '|':
          if (next == c) {
            t.kw = c == '&' ? Kw::kAnd : Kw::kOr;
            end = pos + 2;
          } else {
            t.type = Token::kBad;
          }
          break;
        case '!':
          if (next == '=') {
            t.type = Token::kNotEqual;
            end = pos + 2;
          } else {
            t.kw = Kw::kNot;
          }
          break;
        case '=':
          t.kw = Kw::kEq;
          if (next == '=') end = pos + 2;
          break;
        case '<':
        case '>':
          t.kw = next == '=' ? (c == '<' ? Kw::kLe : Kw::kGe) : (c == '<' ? Kw::kLt : Kw::kGt);
          if (next == '=') end = pos + 2;
          break;
        case '(':
        case ')':
        case '[':
        case ']':
        case ',':
        case '/':
        case '%':
        case '@': t.type = Token::kPunct; break;
        default:
          t.type = Token::kBad;
          // The whole of a UTF-8 character, for the message.
          while (end < src_.size() && (static_cast<unsigned char>(src_[end]) & 0xc0) == 0x80) ++end;
          break;
      }
      t.text = src_.substr(pos, end - pos);
    }
    t.end = end;
    return t;
  }

  Token Peek() const { return LexAt(pos_); }
  Token PeekSecond() const { return LexAt(LexAt(pos_).end); }
  Token Take() {
    Token t = Peek();
    pos_ = t.end;
    return t;
  }

  // An unquoted interface name from the current position: a run up to white space or one of
  // ( ) [ ] , # ' " & | ! = < >, so names like ge-0/0/1 or eth0.100 need no quotes.
  Token TakeName() {
    Token t;
    const size_t pos = SkipSpace(pos_);
    size_t end = pos;
    while (end < src_.size() && !EndsName(src_[end])) ++end;
    t.type = end > pos ? Token::kWord : Token::kEnd;
    t.begin = pos;
    t.end = end;
    t.text = src_.substr(pos, end - pos);
    pos_ = end;
    return t;
  }

  // --- tree building --------------------------------------------------------------------------

  uint32_t Add(const Node& n) {
    scratch_.push_back(ScratchNode{n, {}});
    return static_cast<uint32_t>(scratch_.size() - 1);
  }

  uint32_t Leaf(Node::Kind kind, Node::Field field, Node::Cmp cmp = Node::kEq,
                uint64_t value = 0, uint32_t first = 0, uint32_t count = 0) {
    Node n;
    n.kind = kind;
    n.field = field;
    n.cmp = cmp;
    n.value = value;
    n.first = first;
    n.count = count;
    return Add(n);
  }

  // a AND b / a OR b, flattened so a chain of one connective is one node.
  uint32_t Connect(Node::Kind kind, uint32_t a, uint32_t b) {
    uint32_t target = a;
    if (scratch_[a].node.kind != kind) {
      Node n;
      n.kind = kind;
      target = Add(n);
      scratch_[target].children.push_back(a);
    }
    if (scratch_[b].node.kind == kind) {
      std::vector<uint32_t> kids = std::move(scratch_[b].children);
      std::vector<uint32_t>& into = scratch_[target].children;
      into.insert(into.end(), kids.begin(), kids.end());
    } else {
      scratch_[target].children.push_back(b);
    }
    return target;
  }

  uint32_t Negate(uint32_t a) {
    if (scratch_[a].node.kind == Node::kNot) return scratch_[a].children[0];
    Node n;
    n.kind = Node::kNot;
    const uint32_t i = Add(n);
    scratch_[i].children.push_back(a);
    return i;
  }

  // The src/dst form of a term: one side, either (no qualifier, `src or dst`) or both.
  uint32_t Sides(Qual q, uint32_t src, uint32_t dst) {
    switch (q) {
      case Qual::kSrc: return src;
      case Qual::kDst: return dst;
      case Qual::kSrcAndDst: return Connect(Node::kAnd, src, dst);
      default: return Connect(Node::kOr, src, dst);
    }
  }

  // Breadth-first copy into the filter: root first, each connective's children contiguous.
  void Layout(uint32_t root, FlowFilter& out) {
    if (scratch_[root].node.kind == Node::kTrue) return;  // `any`: matches all, nodes_ empty
    std::vector<uint32_t> order{root};
    out.nodes_.push_back(scratch_[root].node);
    for (size_t head = 0; head < order.size(); ++head) {
      const ScratchNode& s = scratch_[order[head]];
      if (s.node.kind != Node::kAnd && s.node.kind != Node::kOr && s.node.kind != Node::kNot) {
        continue;
      }
      Node& placed = out.nodes_[head];
      placed.first = static_cast<uint32_t>(out.nodes_.size());
      placed.count = static_cast<uint32_t>(s.children.size());
      for (uint32_t child : s.children) {
        order.push_back(child);
        out.nodes_.push_back(scratch_[child].node);
      }
    }
  }

  // --- expressions ----------------------------------------------------------------------------

  // `negated`: an odd number of nots encloses this part, which turns nfdump's `flags` from
  // all-of into any-of (see docs/filters.md).
  bool ParseOr(bool negated, uint32_t& out, const Token* after = nullptr) {
    if (!ParseAnd(negated, out, after)) return false;
    while (Peek().Is(Kw::kOr)) {
      const Token op = Take();
      uint32_t rhs = 0;
      if (!ParseAnd(negated, rhs, &op)) return false;
      out = Connect(Node::kOr, out, rhs);
    }
    return true;
  }

  bool ParseAnd(bool negated, uint32_t& out, const Token* after = nullptr) {
    if (!ParseUnary(negated, out, after)) return false;
    while (Peek().Is(Kw::kAnd)) {
      const Token op = Take();
      uint32_t rhs = 0;
      if (!ParseUnary(negated, rhs, &op)) return false;
      out = Connect(Node::kAnd, out, rhs);
    }
    return true;
  }

  bool Enter(const Token& at) {
    if (++depth_ > kMaxDepth) {
      return Fail(at, absl::StrCat("expression nested deeper than ", kMaxDepth,
                                   " levels of parentheses and 'not'"));
    }
    return true;
  }

  // `after`: the operator before this operand, for "expected a filter term after 'and'".
  bool ParseUnary(bool negated, uint32_t& out, const Token* after) {
    const Token t = Peek();
    if (t.Is(Kw::kNot)) {
      Take();
      if (!Enter(t)) return false;
      uint32_t inner = 0;
      if (!ParseUnary(!negated, inner, &t)) return false;
      --depth_;
      out = Negate(inner);
      return true;
    }
    if (t.IsPunct('(')) {
      Take();
      if (!Enter(t)) return false;
      if (!ParseOr(negated, out, &t)) return false;
      const Token close = Peek();
      if (!close.IsPunct(')')) {
        if (close.type == Token::kEnd || close.IsPunct(']')) {
          return Fail(close, absl::StrCat("expected ')' to close the '(' at ", Position(t.begin)));
        }
        return Fail(close, absl::StrCat("expected 'and', 'or' or ')' before ", Quote(close)));
      }
      Take();
      --depth_;
      return true;
    }
    if (t.type == Token::kEnd || t.IsPunct(')') || t.Is(Kw::kAnd) || t.Is(Kw::kOr)) {
      if (after != nullptr) {
        return Expected(t, "a filter term",
                        after->type == Token::kOperator ? std::string(after->text)
                                                        : absl::AsciiStrToLower(after->text));
      }
      return Fail(t, t.type == Token::kEnd ? "expected a filter term"
                                           : absl::StrCat("expected a filter term before ",
                                                          Quote(t)));
    }
    return ParseTerm(negated, out);
  }

  // --- terms ----------------------------------------------------------------------------------

  // Comparator (optional, default ==) and a number no larger than `max`.
  bool ParseCompared(absl::string_view what, absl::string_view noun, absl::string_view context,
                     uint64_t max, Node::Cmp& cmp, uint64_t& value) {
    cmp = Node::kEq;
    std::string ctx(context);
    Token t = Peek();
    if (t.type == Token::kNotEqual) {
      return Fail(t, absl::StrCat("'!=' is not a comparator: write 'not ", context, " N'"));
    }
    if (t.IsComparator()) {
      Take();
      switch (t.kw) {
        case Kw::kLt: cmp = Node::kLt; break;
        case Kw::kGt: cmp = Node::kGt; break;
        case Kw::kLe: cmp = Node::kLe; break;
        case Kw::kGe: cmp = Node::kGe; break;
        default: cmp = Node::kEq; break;
      }
      absl::StrAppend(&ctx, " ", absl::AsciiStrToLower(t.text));
      t = Peek();
    }
    return ParseNumber(what, noun, ctx, max, value);
  }

  bool ParseNumber(absl::string_view what, absl::string_view noun, absl::string_view context,
                   uint64_t max, uint64_t& value) {
    const Token t = Peek();
    if (t.type == Token::kWord && t.is_number && t.number_overflows) {
      return Fail(t, absl::StrCat("number '", t.text, "' is too large"));
    }
    if (!t.IsNumber()) return Expected(t, what, context);
    if (t.number > max) {
      return Fail(t, absl::StrCat(noun, " ", t.text, " is out of range (0..", max, ")"));
    }
    Take();
    value = t.number;
    return true;
  }

  // An address as nfdump's parser reads it: with ':' IPv6, with letters a hostname (refused:
  // no DNS), else dotted decimal IPv4 of 1 to 4 parts (leading zeros are decimal).
  bool ParseAddressText(const Token& t, bool allow_partial, ParsedAddress& out) {
    const absl::string_view text = t.text;
    if (absl::StrContains(text, ':')) {
      auto a = ParseIpAddress(text);
      if (a.ok() && a->is_v6()) {
        out.address = *a;
        out.bits_given = 128;
        return true;
      }
      // nfdump's partial IPv6 (2001:db8/32): the groups given, left-aligned.
      if (allow_partial && !absl::StrContains(text, "::") && !absl::EndsWith(text, ":")) {
        a = ParseIpAddress(absl::StrCat(text, "::"));
        if (a.ok() && a->is_v6()) {
          out.address = *a;
          out.bits_given = 16 * static_cast<int>(std::count(text.begin(), text.end(), ':') + 1);
          return true;
        }
      }
      return Fail(t, absl::StrCat("'", text, "' is not a valid IPv6 address"));
    }
    if (std::any_of(text.begin(), text.end(),
                    [](char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)); })) {
      return Fail(t, absl::StrCat("'", text,
                                  "' is a hostname: DNS lookups are not supported, give an IPv4 "
                                  "or IPv6 address (see docs/filters.md)"));
    }
    std::array<uint8_t, 4> octets{};
    int parts = 0;
    size_t i = 0;
    bool ok = !text.empty();
    while (ok && i < text.size()) {
      if (parts == 4) {
        ok = false;
        break;
      }
      unsigned value = 0;
      size_t digits = 0;
      while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
        value = value * 10 + static_cast<unsigned>(text[i] - '0');
        if (value > 255) ok = false;
        ++digits;
        ++i;
      }
      if (digits == 0) ok = false;
      if (!ok) break;
      octets[parts++] = static_cast<uint8_t>(value);
      if (i < text.size()) {
        if (text[i] != '.' || i + 1 == text.size()) ok = false;
        ++i;
      }
    }
    if (!ok) return Fail(t, absl::StrCat("'", text, "' is not a valid IPv4 address"));
    if (parts < 4 && !allow_partial) {
      return Fail(t, absl::StrCat("'", text, "' is an incomplete IPv4 address"));
    }
    out.address = IpAddress::V4(octets.data());
    out.bits_given = parts * 8;
    return true;
  }

  bool ParseAddress(absl::string_view context, ParsedAddress& out) {
    const Token t = Peek();
    if (t.type != Token::kWord || t.kw != Kw::kNone) {
      return Expected(t, "an IPv4 or IPv6 address", context);
    }
    if (!ParseAddressText(t, false, out)) return false;
    Take();
    if (Peek().IsPunct('/')) {
      return Fail(Peek(), "a prefix is not an address: for a network write 'net ADDR/LEN' or "
                          "'ip in [ADDR/LEN]'");
    }
    return true;
  }

  uint32_t PushAddress(const IpAddress& a, uint8_t len) {
    filter_->addresses_.push_back(a);
    filter_->prefix_lengths_.push_back(len);
    return static_cast<uint32_t>(filter_->addresses_.size() - 1);
  }

  // `[ addr addr/len, ... ]`, entries separated by spaces or one comma; sorted by (version,
  // prefix length, address) and deduplicated for the matcher's binary searches.
  bool ParseAddressList(absl::string_view context, uint32_t& first, uint32_t& count) {
    const Token open = Peek();
    if (!open.IsPunct('[')) return Expected(open, "'['", context);
    Take();
    std::vector<std::pair<IpAddress, uint8_t>> entries;
    for (;;) {
      Token t = Peek();
      if (t.IsPunct(']') && !entries.empty()) {
        Take();
        break;
      }
      if (t.type == Token::kEnd) {
        return Fail(t, absl::StrCat("expected ']' to close the '[' at ", Position(open.begin)));
      }
      if (t.type != Token::kWord || t.kw != Kw::kNone) {
        return Expected(t, "an address or network",
                        entries.empty() ? absl::StrCat(context, " [") : std::string(","));
      }
      ParsedAddress a;
      if (!ParseAddressText(t, false, a)) return false;
      Take();
      const int total = a.address.is_v4() ? 32 : 128;
      int len = total;
      if (Peek().IsPunct('/')) {
        Take();
        uint64_t bits = 0;
        if (!ParseNumber("a prefix length", "prefix length", absl::StrCat(t.text, "/"),
                         static_cast<uint64_t>(total), bits)) {
          return false;
        }
        len = static_cast<int>(bits);
      }
      entries.emplace_back(MaskAddress(a.address, len), static_cast<uint8_t>(len));
      if (Peek().IsPunct(',')) {
        Take();
        const Token after = Peek();
        if (after.type != Token::kWord) return Expected(after, "an address or network", ",");
      }
    }
    std::sort(entries.begin(), entries.end(), [](const auto& x, const auto& y) {
      if (x.first.version != y.first.version) return x.first.version < y.first.version;
      if (x.second != y.second) return x.second < y.second;
      return std::memcmp(x.first.bytes.data(), y.first.bytes.data(), 16) < 0;
    });
    entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
    first = static_cast<uint32_t>(filter_->addresses_.size());
    count = static_cast<uint32_t>(entries.size());
    for (const auto& [address, len] : entries) PushAddress(address, len);
    return true;
  }

  bool ParseNumberList(absl::string_view context, absl::string_view noun, uint64_t max,
                       uint32_t& first, uint32_t& count) {
    const Token open = Peek();
    if (!open.IsPunct('[')) return Expected(open, "'['", context);
    Take();
    std::vector<uint32_t> values;
    for (;;) {
      const Token t = Peek();
      if (t.IsPunct(']') && !values.empty()) {
        Take();
        break;
      }
      if (t.type == Token::kEnd) {
        return Fail(t, absl::StrCat("expected ']' to close the '[' at ", Position(open.begin)));
      }
      uint64_t v = 0;
      if (!ParseNumber(absl::StrCat("a number (", noun, ")"), noun,
                       values.empty() ? absl::StrCat(context, " [") : std::string(","), max, v)) {
        return false;
      }
      values.push_back(static_cast<uint32_t>(v));
      if (Peek().IsPunct(',')) {
        Take();
        if (!Peek().IsNumber()) return Expected(Peek(), absl::StrCat("a number (", noun, ")"), ",");
      }
    }
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    first = static_cast<uint32_t>(filter_->numbers_.size());
    count = static_cast<uint32_t>(values.size());
    filter_->numbers_.insert(filter_->numbers_.end(), values.begin(), values.end());
    return true;
  }

  // `field [comp] N` where the field has a src and a dst side.
  bool SidedNumber(Qual q, absl::string_view context, absl::string_view what,
                   absl::string_view noun, uint64_t max, Node::Field src, Node::Field dst,
                   uint32_t& out) {
    Node::Cmp cmp;
    uint64_t v = 0;
    if (!ParseCompared(what, noun, context, max, cmp, v)) return false;
    out = Sides(q, Leaf(Node::kCompare, src, cmp, v), Leaf(Node::kCompare, dst, cmp, v));
    return true;
  }

  bool SingleNumber(absl::string_view context, absl::string_view what, absl::string_view noun,
                    uint64_t max, Node::Field field, uint32_t& out) {
    Node::Cmp cmp;
    uint64_t v = 0;
    if (!ParseCompared(what, noun, context, max, cmp, v)) return false;
    out = Leaf(Node::kCompare, field, cmp, v);
    return true;
  }

  // `field [src|dst] port in [..]` style lists over a sided field.
  bool SidedNumberList(Qual q, absl::string_view context, absl::string_view noun, uint64_t max,
                       Node::Field src, Node::Field dst, uint32_t& out) {
    uint32_t first = 0, count = 0;
    if (!ParseNumberList(context, noun, max, first, count)) return false;
    out = Sides(q, Leaf(Node::kNumberList, src, Node::kEq, 0, first, count),
                Leaf(Node::kNumberList, dst, Node::kEq, 0, first, count));
    return true;
  }

  // An address field: `ADDR` or `in [list]`.
  bool AddressTerm(absl::string_view context, Node::Field field, bool unmap, uint32_t& out) {
    if (Peek().Is(Kw::kIn)) {
      Take();
      uint32_t first = 0, count = 0;
      if (!ParseAddressList(absl::StrCat(context, " in"), first, count)) return false;
      if (unmap) count = UnmapList(first, count);
      out = Leaf(Node::kAddressList, field, Node::kEq, 0, first, count);
      return true;
    }
    ParsedAddress a;
    if (!ParseAddress(context, a)) return false;
    const IpAddress address = unmap ? a.address.Unmapped() : a.address;
    out = Leaf(Node::kAddress, field, Node::kEq, 0, PushAddress(address, 0));
    return true;
  }

  // The exporter's address is compared unmapped; an IPv4-mapped entry in its list becomes the
  // IPv4 one (re-sorted and deduplicated, so the list stays searchable). The list is the last
  // thing added to addresses_, so it can shrink in place. Returns the new count.
  uint32_t UnmapList(uint32_t first, uint32_t count) {
    auto& addresses = filter_->addresses_;
    auto& lens = filter_->prefix_lengths_;
    std::vector<std::pair<IpAddress, uint8_t>> entries;
    for (uint32_t i = first; i < first + count; ++i) {
      const IpAddress& a = addresses[i];
      if (a.is_v4_mapped() && lens[i] >= 96) {
        entries.emplace_back(a.Unmapped(), static_cast<uint8_t>(lens[i] - 96));
      } else {
        entries.emplace_back(a, lens[i]);
      }
    }
    std::sort(entries.begin(), entries.end(), [](const auto& x, const auto& y) {
      if (x.first.version != y.first.version) return x.first.version < y.first.version;
      if (x.second != y.second) return x.second < y.second;
      return std::memcmp(x.first.bytes.data(), y.first.bytes.data(), 16) < 0;
    });
    entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
    addresses.resize(first);
    lens.resize(first);
    for (const auto& [address, len] : entries) PushAddress(address, len);
    return static_cast<uint32_t>(entries.size());
  }

  bool NetTerm(Qual q, absl::string_view context, uint32_t& out,
               Node::Field src = Node::kSrcAddr, Node::Field dst = Node::kDstAddr) {
    const Token t = Peek();
    if (t.type != Token::kWord || t.kw != Kw::kNone) {
      return Expected(t, "a network (ADDR/LEN or ADDR NETMASK)", context);
    }
    ParsedAddress net;
    if (!ParseAddressText(t, true, net)) return false;
    Take();
    const std::string net_context = absl::StrCat(context, " ", t.text);
    IpAddress mask;
    mask.version = net.address.version;
    const Token next = Peek();
    if (next.IsPunct('/')) {
      Take();
      uint64_t bits = 0;
      const int total = net.address.is_v4() ? 32 : 128;
      if (!ParseNumber("a prefix length", "prefix length", absl::StrCat(net_context, "/"),
                       static_cast<uint64_t>(total), bits)) {
        return false;
      }
      if (static_cast<int>(bits) > net.bits_given) {
        return Fail(next, absl::StrCat("prefix length ", bits, " is longer than the ",
                                       net.bits_given, " bits written in '", t.text, "'"));
      }
      for (int i = 0; i < total; ++i) {
        if (i < static_cast<int>(bits)) mask.bytes[i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
      }
    } else if (next.type == Token::kWord && next.kw == Kw::kNone) {
      if (!net.address.is_v4()) {
        return Fail(next, "a netmask is only valid for IPv4: write 'net ADDR/LEN'");
      }
      if (net.bits_given != 32) {
        return Fail(t, absl::StrCat("'", t.text, "' is an incomplete IPv4 address"));
      }
      ParsedAddress m;
      if (!ParseAddressText(next, false, m)) return false;
      if (!m.address.is_v4()) return Fail(next, "the netmask must be an IPv4 address");
      Take();
      mask = m.address;
    } else {
      return Expected(next, "'/LEN' or a netmask", net_context);
    }
    IpAddress masked = net.address;
    for (int i = 0; i < 16; ++i) masked.bytes[i] &= mask.bytes[i];
    const uint32_t at = PushAddress(masked, 0);
    PushAddress(mask, 0);
    out = Sides(q, Leaf(Node::kNet, src, Node::kEq, 0, at, 2),
                Leaf(Node::kNet, dst, Node::kEq, 0, at, 2));
    return true;
  }

  // `[src|dst] ip ADDR` or `[src|dst] ip in [list]` over a pair of address fields.
  bool SidedAddressTerm(Qual q, absl::string_view context, Node::Field src_field,
                        Node::Field dst_field, uint32_t& out) {
    uint32_t src = 0, dst = 0;
    if (Peek().Is(Kw::kIn)) {
      Take();
      uint32_t first_entry = 0, count = 0;
      if (!ParseAddressList(absl::StrCat(context, " in"), first_entry, count)) return false;
      src = Leaf(Node::kAddressList, src_field, Node::kEq, 0, first_entry, count);
      dst = Leaf(Node::kAddressList, dst_field, Node::kEq, 0, first_entry, count);
    } else {
      ParsedAddress a;
      if (!ParseAddress(context, a)) return false;
      const uint32_t at = PushAddress(a.address, 0);
      src = Leaf(Node::kAddress, src_field, Node::kEq, 0, at);
      dst = Leaf(Node::kAddress, dst_field, Node::kEq, 0, at);
    }
    out = Sides(q, src, dst);
    return true;
  }

  // `asa event NAME|[comp] N`, `asa event denied ingress|egress|interface|nosyn|N`,
  // `asa xevent [comp] N` (nfdump's NSEL event values: 0 ignore, 1 create, 2 term/delete,
  // 3 deny; its scanner takes only these names).
  bool AsaTerm(const Token& key, uint32_t& out) {
    const Token which = Peek();
    if (which.Is(Kw::kXevent)) {
      Take();
      return SingleNumber("asa xevent", "an extended event number", "extended event", 65535,
                          Node::kFwExtEvent, out);
    }
    if (!which.Is(Kw::kEvent)) return Expected(which, "'event' or 'xevent'", Lower(key));
    Take();
    const Token what = Peek();
    if (what.Is(Kw::kDenied)) {
      Take();
      const Token reason = Peek();
      uint64_t xevent = 0;
      if (reason.Is(Kw::kIngress) || reason.Is(Kw::kEgress)) {
        xevent = reason.Is(Kw::kIngress) ? 1001 : 1002;
      } else if (reason.type == Token::kWord && absl::EqualsIgnoreCase(reason.text, "interface")) {
        xevent = 1003;
      } else if (reason.type == Token::kWord && absl::EqualsIgnoreCase(reason.text, "nosyn")) {
        xevent = 1004;
      } else if (reason.type != Token::kWord || !absl::SimpleAtoi(reason.text, &xevent) ||
                 xevent > 65535) {
        return Expected(reason, "ingress, egress, interface, nosyn or an extended event number",
                        "asa event denied");
      }
      Take();
      out = Connect(Node::kAnd, Leaf(Node::kCompare, Node::kFwEvent, Node::kEq, 3),
                    Leaf(Node::kCompare, Node::kFwExtEvent, Node::kEq, xevent));
      return true;
    }
    if (what.type == Token::kWord && what.kw == Kw::kNone && !absl::ascii_isdigit(static_cast<unsigned char>(what.text[0]))) {
      static constexpr struct {
        const char* name;
        uint8_t value;
      } kEvents[] = {{"ignore", 0}, {"create", 1}, {"term", 2}, {"delete", 2}, {"deny", 3}};
      for (const auto& e : kEvents) {
        if (absl::EqualsIgnoreCase(what.text, e.name)) {
          Take();
          out = Leaf(Node::kCompare, Node::kFwEvent, Node::kEq, e.value);
          return true;
        }
      }
      return Fail(what, absl::StrCat("unknown asa event '", what.text,
                                     "' (ignore, create, term, delete, deny or a number)"));
    }
    return SingleNumber("asa event", "an event name or number", "asa event", 255, Node::kFwEvent,
                        out);
  }

  // `nat event add|create|delete|invalid|[comp] N` (NEL natEvent).
  bool NatTerm(const Token& key, uint32_t& out) {
    if (!Peek().Is(Kw::kEvent)) return Expected(Peek(), "'event'", Lower(key));
    Take();
    const Token what = Peek();
    if (what.type == Token::kWord && what.kw == Kw::kNone && !absl::ascii_isdigit(static_cast<unsigned char>(what.text[0]))) {
      static constexpr struct {
        const char* name;
        uint8_t value;
      } kEvents[] = {{"invalid", 0}, {"add", 1}, {"create", 1}, {"delete", 2}};
      for (const auto& e : kEvents) {
        if (absl::EqualsIgnoreCase(what.text, e.name)) {
          Take();
          out = Leaf(Node::kCompare, Node::kNatEvent, Node::kEq, e.value);
          return true;
        }
      }
      return Fail(what, absl::StrCat("unknown nat event '", what.text,
                                     "' (invalid, add, create, delete or a number)"));
    }
    return SingleNumber("nat event", "an event name or number", "nat event", 255,
                        Node::kNatEvent, out);
  }

  bool FlagsTerm(bool negated, uint32_t& out) {
    const Token t = Peek();
    if (t.IsComparator() || (t.type == Token::kWord && t.is_number) ||
        t.type == Token::kNotEqual) {
      return SingleNumber("flags", "TCP flags (letters A S F R P U X, or a number)", "flags", 63,
                          Node::kTcpFlags, out);
    }
    if (t.type != Token::kWord || t.is_number) {
      return Expected(t, "TCP flags (letters A S F R P U X, or a number)", "flags");
    }
    // Any word, so `flags AS` (nfdump reads AS as its keyword) and lower case work.
    uint64_t mask = 0;
    uint8_t seen = 0;
    for (char c : t.text) {
      uint8_t bit = 0;
      switch (absl::ascii_toupper(static_cast<unsigned char>(c))) {
        case 'F': bit = 1; break;
        case 'S': bit = 2; break;
        case 'R': bit = 4; break;
        case 'P': bit = 8; break;
        case 'A': bit = 16; break;
        case 'U': bit = 32; break;
        case 'X': bit = 64; break;
        default:
          return Fail(t, absl::StrCat("'", absl::CHexEscape(absl::string_view(&c, 1)),
                                      "' is not a TCP flag in '", t.text,
                                      "' (flags are A S F R P U X)"));
      }
      if (seen & bit) {
        return Fail(t, absl::StrCat("TCP flag '", absl::string_view(&c, 1), "' given twice in '",
                                    t.text, "'"));
      }
      seen |= bit;
      mask |= bit == 64 ? 63 : bit;
    }
    Take();
    out = Leaf(negated ? Node::kFlagsAny : Node::kFlagsAll, Node::kTcpFlags, Node::kEq, mask);
    return true;
  }

  bool InterfaceNumber(Qual q, absl::string_view context, uint32_t& out) {
    Node::Cmp cmp;
    uint64_t v = 0;
    if (!ParseCompared("an interface number or name", "interface number", context, 0xffffffff,
                       cmp, v)) {
      return false;
    }
    out = InterfacePair(q, Leaf(Node::kCompare, Node::kInputIf, cmp, v),
                        Leaf(Node::kCompare, Node::kOutputIf, cmp, v));
    return true;
  }

  // nfdump's `if N`, and ours: `if NAME` / `if "NAME"` on the names from --interfaces.
  bool InterfaceTerm(Qual q, absl::string_view context, uint32_t& out) {
    const Token t = Peek();
    if (t.IsComparator() || t.type == Token::kNotEqual) return InterfaceNumber(q, context, out);
    std::string name;
    if (t.type == Token::kQuoted) {
      Take();
      name = std::string(t.text);
      if (name.empty()) return Fail(t, "empty interface name");
    } else if (t.type == Token::kUnterminatedQuote) {
      return Fail(t, "unterminated quoted interface name");
    } else {
      const size_t saved = pos_;
      const Token at = TakeName();
      if (at.type == Token::kEnd) {
        pos_ = saved;
        return Expected(Peek(), "an interface number or name", context);
      }
      if (at.text == t.text && t.type == Token::kWord && t.is_number) {
        pos_ = saved;
        return InterfaceNumber(q, context, out);
      }
      const Kw kw = KeywordOf(at.text);
      if (kw == Kw::kAnd || kw == Kw::kOr || kw == Kw::kNot) {
        pos_ = saved;
        return Expected(t, "an interface number or name (quote a name spelled like a keyword)",
                        context);
      }
      name = std::string(at.text);
    }
    filter_->names_.push_back(name);
    const uint32_t index = static_cast<uint32_t>(filter_->names_.size() - 1);
    filter_->uses_interface_names_ = true;
    out = InterfacePair(q, Leaf(Node::kInterfaceName, Node::kInputIfName, Node::kEq, 0, index),
                        Leaf(Node::kInterfaceName, Node::kOutputIfName, Node::kEq, 0, index));
    return true;
  }

  uint32_t InterfacePair(Qual q, uint32_t in, uint32_t out) {
    if (q == Qual::kIn) return in;
    if (q == Qual::kOut) return out;
    return Connect(Node::kOr, in, out);
  }

  bool CountryTerm(Qual q, absl::string_view context, uint32_t& out) {
    const Token t = Peek();
    // Any two letters, keywords included: IN, AS, ID, GE and LT are countries.
    if (t.type != Token::kWord || t.text.size() != 2 ||
        !absl::ascii_isalpha(static_cast<unsigned char>(t.text[0])) ||
        !absl::ascii_isalpha(static_cast<unsigned char>(t.text[1]))) {
      return Expected(t, "a two-letter country code", context);
    }
    Take();
    const auto upper = [](char c) {
      return uint64_t{
          static_cast<unsigned char>(absl::ascii_toupper(static_cast<unsigned char>(c)))};
    };
    const uint64_t code = (upper(t.text[0]) << 8) | upper(t.text[1]);
    filter_->uses_country_ = true;
    out = Sides(q, Leaf(Node::kCountry, Node::kSrcCountry, Node::kEq, code),
                Leaf(Node::kCountry, Node::kDstCountry, Node::kEq, code));
    return true;
  }

  bool ProtoTerm(uint32_t& out) {
    const Token t = Peek();
    if (t.IsComparator() || (t.type == Token::kWord && t.is_number) ||
        t.type == Token::kNotEqual) {
      return SingleNumber("proto", "a protocol name or number", "protocol", 255, Node::kProtocol,
                          out);
    }
    if (t.type != Token::kWord) return Expected(t, "a protocol name or number", "proto");
    const std::optional<uint8_t> number = ProtocolByName(t.text);
    if (!number) return Fail(t, absl::StrCat("unknown protocol '", t.text, "'"));
    Take();
    out = Leaf(Node::kCompare, Node::kProtocol, Node::kEq, *number);
    return true;
  }

  bool FlowDirTerm(absl::string_view context, uint32_t& out) {
    const Token t = Peek();
    if (t.Is(Kw::kIngress) || t.Is(Kw::kEgress)) {
      Take();
      out = Leaf(Node::kCompare, Node::kDirection, Node::kEq, t.Is(Kw::kEgress) ? 1 : 0);
      return true;
    }
    // nfdump's range check lets 2 through (it says "0, 1"); kept, so its filters all compile.
    return SingleNumber(context, "ingress, egress, 0 or 1", "flow direction", 2, Node::kDirection,
                        out);
  }

  static std::string Lower(const Token& t) { return absl::AsciiStrToLower(t.text); }

  static const char* QualText(Qual q) {
    switch (q) {
      case Qual::kNone: return "";
      case Qual::kSrc: return "src";
      case Qual::kDst: return "dst";
      case Qual::kSrcOrDst: return "src or dst";
      case Qual::kSrcAndDst: return "src and dst";
      case Qual::kIn: return "in";
      case Qual::kOut: return "out";
    }
    return "";
  }

  bool ParseTerm(bool negated, uint32_t& out) {
    Token first = Peek();
    if (first.type == Token::kPunct && first.text == "@") {
      const Token word = LexAt(first.end);
      if (word.begin == first.end && absl::EqualsIgnoreCase(word.text, "include")) {
        return Unsupported(first, "@include");
      }
      return Fail(first, "unexpected character '@'");
    }
    if (first.IsPunct('%')) {
      return Fail(first, "flow labels ('%NAME') are not supported (see docs/filters.md)");
    }
    if (first.type == Token::kBad) {
      return Fail(first, absl::StrCat("unexpected character '",
                                      absl::Utf8SafeCHexEscape(first.text), "'"));
    }
    if (first.type == Token::kQuoted || first.type == Token::kUnterminatedQuote) {
      return Fail(first, "a quoted string is only valid as an interface name ('if \"NAME\"')");
    }
    if (first.type != Token::kWord && first.type != Token::kOperator) {
      return Fail(first, absl::StrCat("expected a filter term before ", Quote(first)));
    }

    // Qualifier: src, dst, src or dst, src and dst, in, out, prev, next.
    Qual q = Qual::kNone;
    Token qual_token = first;
    if (first.Is(Kw::kSrc) || first.Is(Kw::kDst)) {
      Take();
      q = first.Is(Kw::kSrc) ? Qual::kSrc : Qual::kDst;
      const Token conj = Peek();
      if (conj.Is(Kw::kOr) || conj.Is(Kw::kAnd)) {
        const Token other = PeekSecond();
        if (other.Is(first.Is(Kw::kSrc) ? Kw::kDst : Kw::kSrc)) {
          Take();
          Take();
          q = conj.Is(Kw::kOr) ? Qual::kSrcOrDst : Qual::kSrcAndDst;
        }
      }
    } else if (first.Is(Kw::kIn) || first.Is(Kw::kOut)) {
      Take();
      q = first.Is(Kw::kIn) ? Qual::kIn : Qual::kOut;
      const Token side = Peek();
      if (side.Is(Kw::kSrc) || side.Is(Kw::kDst)) {
        // nfdump: only MAC addresses have in/out src/dst.
        const Token what = PeekSecond();
        if (what.type == Token::kWord && what.kw == Kw::kUnsupported) {
          return Unsupported(what, Lower(what));
        }
        return Unsupported(first, absl::StrCat(Lower(first), " ", Lower(side)));
      }
    } else if (first.Is(Kw::kPrev) || first.Is(Kw::kNext)) {
      Take();
      const Token what = Peek();
      if (what.Is(Kw::kAs)) {
        return Unsupported(first, absl::StrCat(first.Is(Kw::kPrev) ? "prev" : "next", " as"));
      }
      if (first.Is(Kw::kNext) && what.Is(Kw::kIp)) {
        Take();
        return AddressTerm("next ip", Node::kNextHop, false, out);
      }
      return Expected(what, first.Is(Kw::kNext) ? "'ip' or 'as'" : "'as'", Lower(first));
    }

    const Token key = Peek();
    const std::string context =
        q == Qual::kNone ? Lower(key) : absl::StrCat(QualText(q), " ", Lower(key));
    if (key.type == Token::kWord && key.kw == Kw::kUnsupported) {
      if (absl::EqualsIgnoreCase(key.text, "client") ||
          absl::EqualsIgnoreCase(key.text, "server") || absl::EqualsIgnoreCase(key.text, "app")) {
        if (PeekSecond().Is(Kw::kLatency)) {
          return Unsupported(key, absl::StrCat(Lower(key), " latency"));
        }
      }
      return Unsupported(key, Lower(key));
    }
    if (key.Is(Kw::kLatency) || key.Is(Kw::kPblock)) return Unsupported(key, Lower(key));
    if (key.Is(Kw::kIngress) || key.Is(Kw::kEgress)) {
      if (q == Qual::kNone && PeekSecond().Is(Kw::kVrf)) {
        Take();
        Take();
        return SingleNumber(absl::StrCat(Lower(key), " vrf"), "a VRF ID", "VRF ID", 0xffffffff,
                            key.Is(Kw::kIngress) ? Node::kIngressVrf : Node::kEgressVrf, out);
      }
      return Unsupported(key, Lower(key));
    }
    if (key.type != Token::kWord || key.kw == Kw::kNone || key.IsComparator() ||
        key.Is(Kw::kAnd) || key.Is(Kw::kOr) || key.Is(Kw::kNot)) {
      if (q != Qual::kNone) return Expected(key, "a filter term", QualText(q));
      if (key.type == Token::kWord && key.kw == Kw::kNone) {
        return Fail(key, absl::StrCat("unknown filter term '", absl::Utf8SafeCHexEscape(key.text),
                                      "'"));
      }
      return Fail(key, absl::StrCat("expected a filter term before ", Quote(key)));
    }
    Take();

    // Which qualifiers each term takes, as in nfdump's grammar.
    const bool sided = q == Qual::kNone || q == Qual::kSrc || q == Qual::kDst ||
                       q == Qual::kSrcOrDst || q == Qual::kSrcAndDst;
    const bool in_out = q == Qual::kNone || q == Qual::kIn || q == Qual::kOut;
    auto bad_qualifier = [&](absl::string_view takes) {
      return Fail(qual_token, absl::StrCat("'", QualText(q), "' does not apply to '", Lower(key),
                                           "'", takes.empty() ? "" : " (it takes ", takes,
                                           takes.empty() ? "" : ")"));
    };

    switch (key.kw) {
      case Kw::kAny:
        if (q != Qual::kNone) return bad_qualifier("");
        out = Leaf(Node::kTrue, Node::kNone);
        return true;
      case Kw::kIpv4:
      case Kw::kIpv6:
        if (q != Qual::kNone) return bad_qualifier("");
        out = Leaf(Node::kCompare, Node::kIpVersion, Node::kEq, key.Is(Kw::kIpv4) ? 4 : 6);
        return true;
      case Kw::kProto:
        if (q != Qual::kNone) return bad_qualifier("");
        return ProtoTerm(out);
      case Kw::kIp:
        if (!sided) return bad_qualifier("src|dst");
        return SidedAddressTerm(q, context, Node::kSrcAddr, Node::kDstAddr, out);
      case Kw::kNet:
        if (!sided) return bad_qualifier("src|dst");
        return NetTerm(q, context, out);
      case Kw::kXip:
        if (!sided) return bad_qualifier("src|dst");
        return SidedAddressTerm(q, context, Node::kPostNatSrcAddr, Node::kPostNatDstAddr, out);
      case Kw::kXnet:
        if (!sided) return bad_qualifier("src|dst");
        return NetTerm(q, context, out, Node::kPostNatSrcAddr, Node::kPostNatDstAddr);
      case Kw::kXport:
        if (!sided) return bad_qualifier("src|dst");
        return SidedNumber(q, context, "a port number", "port", 65535, Node::kPostNatSrcPort,
                           Node::kPostNatDstPort, out);
      case Kw::kAsa:
        if (q != Qual::kNone) return bad_qualifier("");
        return AsaTerm(key, out);
      case Kw::kNat:
        if (q != Qual::kNone) return bad_qualifier("");
        return NatTerm(key, out);
      case Kw::kPort:
        if (!sided) return bad_qualifier("src|dst");
        if (Peek().Is(Kw::kIn)) {
          const Token in = Take();
          if (Peek().Is(Kw::kPblock)) return Unsupported(in, "port in pblock");
          return SidedNumberList(q, context + " in", "port", 65535, Node::kSrcPort,
                                 Node::kDstPort, out);
        }
        return SidedNumber(q, context, "a port number", "port", 65535, Node::kSrcPort,
                           Node::kDstPort, out);
      case Kw::kAs:
        if (!sided) return bad_qualifier("src|dst");
        if (Peek().Is(Kw::kIn)) {
          Take();
          return SidedNumberList(q, context + " in", "AS number", 0xffffffff, Node::kSrcAs,
                                 Node::kDstAs, out);
        }
        return SidedNumber(q, context, "an AS number", "AS number", 0xffffffff, Node::kSrcAs,
                           Node::kDstAs, out);
      case Kw::kMask:
        if (!sided) return bad_qualifier("src|dst");
        return SidedNumber(q, context, "a mask length", "mask", 255, Node::kSrcMask,
                           Node::kDstMask, out);
      case Kw::kVlan:
        if (q == Qual::kDst || q == Qual::kSrcOrDst || q == Qual::kSrcAndDst) {
          return Unsupported(qual_token, absl::StrCat(QualText(q), " vlan"));
        }
        if (!sided) return bad_qualifier("src");
        return SingleNumber(context, "a VLAN number", "VLAN", 65535, Node::kVlan, out);
      case Kw::kTos:
        if (q == Qual::kDst || q == Qual::kSrcOrDst || q == Qual::kSrcAndDst) {
          return Unsupported(qual_token, absl::StrCat(QualText(q), " tos"));
        }
        if (!sided) return bad_qualifier("src");
        return SingleNumber(context, "a TOS value", "TOS", 255, Node::kTos, out);
      case Kw::kGeo:
      case Kw::kCountry:
        if (!sided) return bad_qualifier("src|dst");
        return CountryTerm(q, context, out);
      case Kw::kIf:
        if (!in_out) return bad_qualifier("in|out");
        return InterfaceTerm(q, context, out);
      case Kw::kPackets:
      case Kw::kBytes: {
        if (!in_out) return bad_qualifier("in|out");
        const bool packets = key.Is(Kw::kPackets);
        const Node::Field field = q == Qual::kOut ? (packets ? Node::kOutPackets : Node::kOutBytes)
                                                  : (packets ? Node::kPackets : Node::kBytes);
        return SingleNumber(context, "a number", packets ? "packets" : "bytes",
                            std::numeric_limits<uint64_t>::max(), field, out);
      }
      case Kw::kFlows:
      case Kw::kDuration:
      case Kw::kPps:
      case Kw::kBps:
      case Kw::kBpp: {
        if (q != Qual::kNone) return bad_qualifier("");
        const Node::Field field = key.Is(Kw::kFlows)      ? Node::kFlows
                                  : key.Is(Kw::kDuration) ? Node::kDuration
                                  : key.Is(Kw::kPps)      ? Node::kPps
                                  : key.Is(Kw::kBps)      ? Node::kBps
                                                          : Node::kBpp;
        return SingleNumber(context, key.Is(Kw::kDuration) ? "milliseconds" : "a number",
                            Lower(key), std::numeric_limits<uint64_t>::max(), field, out);
      }
      case Kw::kFlags:
        if (q != Qual::kNone) return bad_qualifier("");
        return FlagsTerm(negated, out);
      case Kw::kIcmpType:
      case Kw::kIcmpCode:
        if (q != Qual::kNone) return bad_qualifier("");
        return SingleNumber(context, key.Is(Kw::kIcmpType) ? "an ICMP type" : "an ICMP code",
                            key.Is(Kw::kIcmpType) ? "ICMP type" : "ICMP code", 255,
                            key.Is(Kw::kIcmpType) ? Node::kIcmpType : Node::kIcmpCode, out);
      case Kw::kEngineType:
      case Kw::kEngineId:
        if (q != Qual::kNone) return bad_qualifier("");
        return SingleNumber(context, "a number", Lower(key), 255,
                            key.Is(Kw::kEngineType) ? Node::kEngineType : Node::kEngineId, out);
      case Kw::kDir:
        if (q != Qual::kNone) return bad_qualifier("");
        return FlowDirTerm(context, out);
      case Kw::kRouter: {
        if (q != Qual::kNone) return bad_qualifier("");
        if (!Peek().Is(Kw::kIp)) return Expected(Peek(), "'ip'", "router");
        Take();
        return AddressTerm("router ip", Node::kExporter, true, out);
      }
      case Kw::kExporter:
        if (q != Qual::kNone) return bad_qualifier("");
        return AddressTerm("exporter", Node::kExporter, true, out);
      case Kw::kObservation: {
        if (q != Qual::kNone) return bad_qualifier("");
        const Token which = Peek();
        if (which.Is(Kw::kPoint)) return Unsupported(key, "observation point id");
        if (!which.Is(Kw::kDomain)) return Expected(which, "'domain id'", "observation");
        Take();
        if (!Peek().Is(Kw::kId)) return Expected(Peek(), "'id'", "observation domain");
        Take();
        return SingleNumber("observation domain id", "a number", "observation domain id",
                            0xffffffff, Node::kSourceId, out);
      }
      case Kw::kSampler:
        if (q != Qual::kNone) return bad_qualifier("");
        return SingleNumber(context, "a sampling interval", "sampling interval", 0xffffffff,
                            Node::kSampling, out);
      case Kw::kNfVersion:
        if (q != Qual::kNone) return bad_qualifier("");
        return SingleNumber(context, "a NetFlow version", "NetFlow version", 10, Node::kVersion,
                            out);
      default:
        break;
    }
    if (key.Is(Kw::kIn) && (q == Qual::kSrc || q == Qual::kDst)) {
      // nfdump's manual shows `src in ip [..]`, which its parser rejects.
      return Fail(key, absl::StrCat("write '", QualText(q), " ip in [...]' for an address list"));
    }
    if (q != Qual::kNone) return Expected(key, "a filter term", QualText(q));
    return Fail(key, absl::StrCat("expected a filter term before ", Quote(key)));
  }

  const absl::string_view src_;
  size_t pos_ = 0;
  int depth_ = 0;
  absl::Status error_;
  FlowFilter* filter_ = nullptr;
  std::vector<ScratchNode> scratch_;
};

absl::StatusOr<FlowFilter> FlowFilter::Compile(absl::string_view expression) {
  return FilterCompiler(expression).Compile();
}

}  // namespace nf
