#include "agent/config/format.h"

#include <climits>

#include "absl/strings/str_join.h"
#include "agent/config/parser.h"
#include "agent/go/strconv.h"

namespace sluice::config {
namespace {

// The formatter works as Alloy's printer does, in three stages: a walker sends tokens and
// whitespace instructions to a printer, which lays out text with tab-separated cells (`\v`
// before `=` for alignment, `\f` to end an alignment run, 0xFF around text to keep verbatim);
// an elastic-tabstop writer then pads the cells into columns; a trimmer finally drops trailing
// blanks. Reproducing each stage keeps the output byte-for-byte what `alloy fmt` writes.

constexpr char kEscape = '\xff';

// --- elastic tabstops (Go's text/tabwriter with minwidth 0, tabwidth 8, padding 1, padchar ' ',
// DiscardEmptyColumns and TabIndent) ---

class TabWriter {
 public:
  explicit TabWriter(std::string* out) : out_(out) { Reset(); }

  void Write(std::string_view data) {
    size_t n = 0;
    for (size_t i = 0; i < data.size(); ++i) {
      char ch = data[i];
      if (end_char_ == 0) {
        if (ch == '\t' || ch == '\v' || ch == '\n' || ch == '\f') {
          Append(data.substr(n, i - n));
          UpdateWidth();
          n = i + 1;
          size_t ncells = TerminateCell(ch == '\t');
          if (ch == '\n' || ch == '\f') {
            lines_.emplace_back();
            // A formfeed always flushes; so does a line of one cell, which cannot affect the
            // columns of the lines after it.
            if (ch == '\f' || ncells == 1) Flush();
          }
        } else if (ch == kEscape) {
          Append(data.substr(n, i - n));
          UpdateWidth();
          n = i;  // the escape bytes stay in the text; the trimmer drops them
          end_char_ = kEscape;
        }
      } else if (ch == end_char_) {
        Append(data.substr(n, i + 1 - n));
        n = i + 1;
        EndEscape();
      }
    }
    Append(data.substr(n));
  }

  void Flush() {
    if (cell_.size > 0) {
      if (end_char_ != 0) EndEscape();
      TerminateCell(false);
    }
    Format(0, 0, static_cast<int>(lines_.size()));
    Reset();
  }

 private:
  struct Cell {
    int size = 0;   // bytes
    int width = 0;  // runes
    bool htab = false;
  };

  void Reset() {
    buf_.clear();
    pos_ = 0;
    cell_ = Cell{};
    end_char_ = 0;
    lines_.clear();
    widths_.clear();
    lines_.emplace_back();
  }

  void Append(std::string_view text) {
    buf_.append(text);
    cell_.size += static_cast<int>(text.size());
  }

  void UpdateWidth() {
    int runes = 0;
    for (size_t i = static_cast<size_t>(pos_); i < buf_.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(buf_[i]);
      // Continuation bytes do not start a rune; a stray byte (the escape) counts as one.
      if ((c & 0xC0) != 0x80 || c == 0xFF) ++runes;
    }
    cell_.width += runes;
    pos_ = static_cast<int>(buf_.size());
  }

  void EndEscape() {
    UpdateWidth();
    cell_.width -= 2;  // the two escape bytes take no room
    end_char_ = 0;
  }

  size_t TerminateCell(bool htab) {
    cell_.htab = htab;
    lines_.back().push_back(cell_);
    cell_ = Cell{};
    return lines_.back().size();
  }

  void WritePadding(int textw, int cellw, bool use_tabs) {
    if (use_tabs) {
      cellw = (cellw + kTabWidth - 1) / kTabWidth * kTabWidth;
      int n = cellw - textw;
      if (n < 0) n = 0;
      out_->append(static_cast<size_t>((n + kTabWidth - 1) / kTabWidth), '\t');
      return;
    }
    if (cellw > textw) out_->append(static_cast<size_t>(cellw - textw), ' ');
  }

  int WriteLines(int pos, int line0, int line1) {
    for (int i = line0; i < line1; ++i) {
      const std::vector<Cell>& line = lines_[static_cast<size_t>(i)];
      bool use_tabs = true;
      for (size_t j = 0; j < line.size(); ++j) {
        const Cell& c = line[j];
        if (c.size == 0) {
          if (j < widths_.size()) WritePadding(c.width, widths_[j], use_tabs);
        } else {
          use_tabs = false;
          out_->append(buf_, static_cast<size_t>(pos), static_cast<size_t>(c.size));
          pos += c.size;
          if (j < widths_.size()) WritePadding(c.width, widths_[j], false);
        }
      }
      if (i + 1 == static_cast<int>(lines_.size())) {
        out_->append(buf_, static_cast<size_t>(pos), static_cast<size_t>(cell_.size));
        pos += cell_.size;
      } else {
        out_->push_back('\n');
      }
    }
    return pos;
  }

  int Format(int pos, int line0, int line1) {
    const size_t column = widths_.size();
    for (int t = line0; t < line1; ++t) {
      const std::vector<Cell>* line = &lines_[static_cast<size_t>(t)];
      if (column + 1 >= line->size()) continue;
      // This line has a cell in this column: a column block starts here.
      pos = WriteLines(pos, line0, t);
      line0 = t;
      int width = 0;
      bool discardable = true;
      for (; t < line1; ++t) {
        line = &lines_[static_cast<size_t>(t)];
        if (column + 1 >= line->size()) break;
        const Cell& c = (*line)[column];
        width = std::max(width, c.width + 1);
        if (c.width > 0 || c.htab) discardable = false;
      }
      if (discardable) width = 0;
      widths_.push_back(width);
      pos = Format(pos, line0, t);
      widths_.pop_back();
      line0 = t;
    }
    return WriteLines(pos, line0, line1);
  }

  static constexpr int kTabWidth = 8;
  std::string* out_;
  std::string buf_;
  int pos_ = 0;
  Cell cell_;
  char end_char_ = 0;
  std::vector<std::vector<Cell>> lines_;
  std::vector<int> widths_;
};

// Drops blanks before line ends and the escape bytes (Alloy's trimmer).
std::string Trim(std::string_view data) {
  enum { kSpace, kEscaped, kText } state = kSpace;
  std::string out;
  std::string space;
  size_t text_start = 0;
  for (size_t off = 0; off < data.size(); ++off) {
    char b = data[off];
    if (b == '\v') b = '\t';
    switch (state) {
      case kSpace:
        if (b == '\t' || b == ' ') {
          space.push_back(b);
        } else if (b == '\n' || b == '\f') {
          space.clear();
          out.push_back('\n');
        } else if (b == kEscape) {
          out += space;
          space.clear();
          state = kEscaped;
          text_start = off + 1;
        } else {
          out += space;
          space.clear();
          state = kText;
          text_start = off;
        }
        break;
      case kText:
        if (b == '\t' || b == ' ') {
          out.append(data.substr(text_start, off - text_start));
          state = kSpace;
          space.assign(1, b);
        } else if (b == '\n' || b == '\f') {
          out.append(data.substr(text_start, off - text_start));
          state = kSpace;
          space.clear();
          out.push_back('\n');
        } else if (b == kEscape) {
          out.append(data.substr(text_start, off - text_start));
          state = kEscaped;
          text_start = off + 1;
        }
        break;
      case kEscaped:
        if (b == kEscape) {
          out.append(data.substr(text_start, off - text_start));
          state = kSpace;
          space.clear();
        }
        break;
    }
  }
  if (state != kSpace) out.append(data.substr(text_start));
  return out;
}

// --- the printer ---

struct P {
  int offset = 0;
  int line = 0;
  int col = 0;
  bool valid() const { return line > 0; }
};

P ToP(Loc l) { return l.valid() ? P{l.offset, l.line, l.col} : P{}; }

enum WsKind : char {
  kIgnore = 0,
  kBlank = ' ',
  kVTab = '\v',
  kNewline = '\n',
  kFormfeed = '\f',
  kIndent = '>',
  kUnindent = '<',
};

// Pseudo-token for "whitespace was written last" (Alloy's token.LITERAL in this role).
constexpr int kLastWs = -1;

class Printer {
 public:
  Printer() {
    pos_ = P{0, 1, 1};
    out_pos_ = P{0, 1, 1};
  }

  void SetComments(const std::vector<CommentGroup>* comments) {
    comments_ = comments;
    comment_idx_ = 0;
    NextComment();
  }

  void Ws(WsKind w) {
    if (w == kIgnore) return;
    if (ws_.size() == kMaxWs) WriteWhitespace(ws_.size());
    ws_.push_back(w);
    last_tok_ = kLastWs;
  }

  void At(Loc l) {
    if (l.valid()) pos_ = ToP(l);
  }

  void Text(const std::string& data, int tok) {
    last_tok_ = tok;
    P next = pos_;
    Flush(next, tok);
    WriteString(next, data, false);
  }

  void Tok(Token t) {
    std::string_view s = TokenName(t);
    // Keep tokens apart that would scan as one: "1" "." and "/" "*".
    if ((last_tok_ == static_cast<int>(Token::kNumber) && s[0] == '.') ||
        (last_tok_ == static_cast<int>(Token::kDiv) && s[0] == '*')) {
      ws_.assign(1, kBlank);
    }
    last_tok_ = static_cast<int>(t);
    P next = pos_;
    Flush(next, static_cast<int>(t));
    WriteString(next, std::string(s), false);
  }

  std::string Finish() {
    Flush(P{INT_MAX, INT_MAX, INT_MAX}, static_cast<int>(Token::kEof));
    std::string tabbed;
    TabWriter tw(&tabbed);
    tw.Write(output_);
    tw.Flush();
    return Trim(tabbed);
  }

 private:
  static constexpr size_t kMaxWs = 16;

  bool CommentBefore(P next) const {
    return comment_ != nullptr && comment_pos_.offset <= next.offset;
  }

  void NextComment() {
    comment_ = nullptr;
    while (comments_ != nullptr && comment_idx_ < comments_->size()) {
      const CommentGroup& g = (*comments_)[comment_idx_++];
      if (!g.empty()) {
        comment_ = &g;
        comment_pos_ = ToP(g[0].pos);
        return;
      }
    }
  }

  void Flush(P next, int tok) {
    if (CommentBefore(next)) {
      InjectComments(next, tok);
    } else if (tok != static_cast<int>(Token::kEof)) {
      WriteWhitespace(ws_.size());
    }
  }

  void InjectComments(P next, int tok) {
    const Comment* last = nullptr;
    while (CommentBefore(next)) {
      for (const Comment& c : *comment_) {
        WriteCommentPrefix(next, c);
        WriteString(ToP(c.pos), c.text, true);
        last = &c;
      }
      NextComment();
    }
    WriteCommentSuffix(next, tok, last);
  }

  void WriteCommentPrefix(P next, const Comment& c) {
    if (output_.empty()) return;  // nothing before the first comment of the output
    P cpos = ToP(c.pos);
    if (cpos.line == last_.line) {
      // On the line of the last token: a tab before it, or a space when the next token follows
      // on the same line (a block comment between tokens).
      WriteByte(cpos.line == next.line ? ' ' : '\t', 1);
      return;
    }
    // Indentation changes pending before the first other whitespace go first; that whitespace
    // is replaced by the comment's own newlines.
    size_t count = 0;
    for (size_t i = 0; i < ws_.size(); ++i) {
      if (ws_[i] == kIndent || ws_[i] == kUnindent) continue;
      ws_[i] = kIgnore;
      count = i;
      break;
    }
    WriteWhitespace(count);
    int newlines = 0;
    if (cpos.valid() && last_.valid()) newlines = cpos.line - last_.line;
    if (newlines > 0) WriteByte('\f', std::min(newlines, 2));
  }

  void WriteCommentSuffix(P next, int tok, const Comment* last) {
    if (tok == static_cast<int>(Token::kEof)) return;  // no blank lines at the end of the file
    bool dropped_ff = false;
    if (last != nullptr && last->text.size() > 1 && last->text[1] == '*' &&
        next.line == last->end.line) {
      WriteByte(' ', 1);
    }
    int newlines = next.line - last_.line;
    for (auto& w : ws_) {
      switch (w) {
        case kBlank:
        case kVTab:
          w = kIgnore;
          break;
        case kNewline:
        case kFormfeed:
          if (w == kFormfeed) dropped_ff = true;
          w = kIgnore;
          break;
        default:
          break;
      }
    }
    WriteWhitespace(ws_.size());
    if (newlines > 0) WriteByte(dropped_ff ? '\f' : '\n', std::min(newlines, 2));
  }

  void WriteString(P pos, const std::string& s, bool literal) {
    if (out_pos_.col == 1) WriteIndent();
    if (pos.valid()) pos_ = pos;
    if (literal) output_.push_back(kEscape);
    output_ += s;
    if (literal) output_.push_back(kEscape);
    int newlines = 0;
    size_t last_nl = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\n' || s[i] == '\f') {
        ++newlines;
        last_nl = i;
      }
    }
    pos_.offset += static_cast<int>(s.size());
    if (newlines > 0) {
      pos_.line += newlines;
      out_pos_.line += newlines;
      int col = static_cast<int>(s.size() - last_nl);
      pos_.col = col;
      out_pos_.col = col;
    } else {
      pos_.col += static_cast<int>(s.size());
      out_pos_.col += static_cast<int>(s.size());
    }
    last_ = pos_;
  }

  void WriteIndent() {
    output_.append(static_cast<size_t>(indent_), '\t');
    pos_.offset += indent_;
    pos_.col += indent_;
    out_pos_.col += indent_;
  }

  void WriteByte(char ch, int n) {
    if (out_pos_.col == 1) WriteIndent();
    output_.append(static_cast<size_t>(n), ch);
    pos_.offset += n;
    if (ch == '\n' || ch == '\f') {
      pos_.line += n;
      out_pos_.line += n;
      pos_.col = 1;
      out_pos_.col = 1;
      return;
    }
    pos_.col += n;
    out_pos_.col += n;
  }

  void WriteWhitespace(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      switch (ws_[i]) {
        case kIgnore:
          break;
        case kIndent:
          ++indent_;
          break;
        case kUnindent:
          if (indent_ > 0) --indent_;
          break;
        default:
          WriteByte(static_cast<char>(ws_[i]), 1);
      }
    }
    ws_.erase(ws_.begin(), ws_.begin() + static_cast<std::ptrdiff_t>(n));
  }

  std::string output_;
  int indent_ = 0;
  int last_tok_ = kLastWs;
  std::vector<WsKind> ws_;
  const std::vector<CommentGroup>* comments_ = nullptr;
  size_t comment_idx_ = 0;
  const CommentGroup* comment_ = nullptr;
  P comment_pos_;
  P pos_;      // estimated position in the source
  P last_;     // position after the last text written
  P out_pos_;  // position in the output
};

int NodeLines(Loc start, Loc end) { return end.line - start.line + 1; }

// Sends a tree to the printer (Alloy's walker).
class Walker {
 public:
  explicit Walker(Printer* p) : p_(p) {}

  void Stmts(const StmtList& body) {
    for (size_t i = 0; i < body.size(); ++i) {
      const Stmt& s = body[i];
      bool spaced = false;
      if (i > 0 && s.block) {
        p_->Ws(kFormfeed);  // blocks are always separated by a blank line
        spaced = true;
      }
      if (i > 0 && !spaced && StartLoc(s).line - EndLoc(body[i - 1]).line > 1) {
        p_->Ws(kFormfeed);  // keep one blank line where the source had one
      }
      if (s.attr) {
        Attribute(*s.attr);
      } else {
        Block(*s.block);
      }
      // A statement over several lines ends an alignment run.
      p_->Ws(NodeLines(StartLoc(s), EndLoc(s)) > 1 ? kFormfeed : kNewline);
    }
  }

  void Expression(const Expr& e) {
    switch (e.kind) {
      case ExprKind::kLiteral:
        p_->At(e.pos);
        p_->Text(e.text, static_cast<int>(e.tok));
        return;
      case ExprKind::kIdent:
        p_->At(e.pos);
        p_->Text(e.text, static_cast<int>(Token::kIdent));
        return;
      case ExprKind::kArray:
        Array(e);
        return;
      case ExprKind::kObject:
        Object(e);
        return;
      case ExprKind::kAccess:
        Expression(*e.left);
        p_->Tok(Token::kDot);
        p_->Text(e.text, static_cast<int>(Token::kIdent));
        return;
      case ExprKind::kIndex:
        Expression(*e.left);
        p_->At(e.pos);
        p_->Tok(Token::kLBrack);
        Expression(*e.right);
        p_->At(e.end);
        p_->Tok(Token::kRBrack);
        return;
      case ExprKind::kCall:
        Call(e);
        return;
      case ExprKind::kUnary:
        p_->At(e.pos);
        p_->Tok(e.tok);
        Expression(*e.left);
        return;
      case ExprKind::kBinary:
        Expression(*e.left);
        p_->Ws(kBlank);
        p_->At(e.pos);
        p_->Tok(e.tok);
        p_->Ws(kBlank);
        Expression(*e.right);
        return;
      case ExprKind::kParen:
        p_->Tok(Token::kLParen);
        Expression(*e.left);
        p_->Tok(Token::kRParen);
        return;
    }
  }

 private:
  void Attribute(const AttributeStmt& a) {
    p_->At(a.name_pos);
    p_->Text(a.name, static_cast<int>(Token::kIdent));
    p_->Ws(kVTab);
    p_->Tok(Token::kAssign);
    p_->Ws(kBlank);
    Expression(*a.value);
  }

  void Block(const BlockStmt& b) {
    p_->At(b.name_pos);
    p_->Text(b.FullName(), static_cast<int>(Token::kIdent));
    if (!b.label.empty()) {
      p_->Ws(kBlank);
      p_->At(b.label_pos);
      p_->Text(GoQuote(b.label), static_cast<int>(Token::kString));
    }
    p_->Ws(kBlank);
    p_->At(b.lcurly);
    p_->Tok(Token::kLCurly);
    p_->Ws(kIndent);
    if (!b.body.empty()) {
      p_->Ws(kFormfeed);
      Stmts(b.body);
    } else {
      p_->Ws(kBlank);
    }
    p_->Ws(kUnindent);
    p_->At(b.rcurly);
    p_->Tok(Token::kRCurly);
  }

  void Array(const Expr& e) {
    p_->At(e.pos);
    p_->Tok(Token::kLBrack);
    Loc prev = e.pos;
    for (size_t i = 0; i < e.elems.size(); ++i) {
      const Expr& el = *e.elems[i];
      bool newline = false;
      if (prev.line != StartLoc(el).line) {
        // Indent before the newline so that comments before the element are indented too.
        p_->Ws(kIndent);
        p_->Ws(kFormfeed);
        newline = true;
      } else if (i > 0) {
        p_->Ws(kBlank);
      }
      prev = EndLoc(el);
      Expression(el);
      if (i + 1 < e.elems.size()) p_->Tok(Token::kComma);
      if (newline) p_->Ws(kUnindent);
    }
    if (!e.elems.empty() && prev.line != e.end.line) {
      p_->Tok(Token::kComma);
      p_->Ws(kIndent);
      p_->Ws(kFormfeed);
      p_->Ws(kUnindent);
    }
    p_->At(e.end);
    p_->Tok(Token::kRBrack);
  }

  void Object(const Expr& e) {
    p_->At(e.pos);
    p_->Tok(Token::kLCurly);
    p_->Ws(kIndent);
    Loc prev = e.pos;
    for (size_t i = 0; i < e.fields.size(); ++i) {
      const ObjectField& f = e.fields[i];
      if (prev.line != f.name_pos.line) {
        // Align `=` with the previous field only when that one fit on one line.
        if (i > 0 &&
            NodeLines(StartLoc(*e.fields[i - 1].value), EndLoc(*e.fields[i - 1].value)) == 1) {
          p_->Ws(kNewline);
        } else {
          p_->Ws(kFormfeed);
        }
      } else if (i > 0) {
        p_->Ws(kBlank);
      }
      prev = f.name_pos.Add(static_cast<int>(f.name.size()) - 1);
      p_->At(f.name_pos);
      if (f.quoted) {
        p_->Text(GoQuote(f.name), static_cast<int>(Token::kString));
      } else {
        p_->Text(f.name, static_cast<int>(Token::kIdent));
      }
      p_->Ws(kVTab);
      p_->Tok(Token::kAssign);
      p_->Ws(kBlank);
      Expression(*f.value);
      if (i + 1 < e.fields.size()) p_->Tok(Token::kComma);
    }
    if (!e.fields.empty() && prev.line != e.end.line) {
      p_->Tok(Token::kComma);
      p_->Ws(kFormfeed);
    }
    p_->Ws(kUnindent);
    p_->At(e.end);
    p_->Tok(Token::kRCurly);
  }

  void Call(const Expr& e) {
    Expression(*e.left);
    p_->Tok(Token::kLParen);
    Loc prev = e.pos;
    for (size_t i = 0; i < e.elems.size(); ++i) {
      const Expr& arg = *e.elems[i];
      bool newline = false;
      if (prev.line != StartLoc(arg).line) {
        p_->Ws(kFormfeed);
        p_->Ws(kIndent);
        newline = true;
      }
      Expression(arg);
      prev = EndLoc(arg);
      if (i + 1 < e.elems.size()) {
        p_->Tok(Token::kComma);
        p_->Ws(kBlank);
      }
      if (newline) p_->Ws(kUnindent);
    }
    if (prev.line != e.end.line) {
      p_->Tok(Token::kComma);
      p_->Ws(kFormfeed);
    }
    p_->Tok(Token::kRParen);
  }

  Printer* p_;
};

}  // namespace

std::string Format(const File& file) {
  Printer p;
  p.SetComments(&file.comments);
  Walker w(&p);
  w.Stmts(file.body);
  std::string out = p.Finish();
  out.push_back('\n');
  return out;
}

std::string FormatExpr(const Expr& expr) {
  Printer p;
  Walker w(&p);
  w.Expression(expr);
  return p.Finish();
}

bool FormatSource(std::string name, std::string_view text, std::string* out, Diags* diags) {
  std::optional<File> f = ParseFile(std::move(name), text, diags);
  if (!f) return false;
  *out = Format(*f);
  return true;
}

}  // namespace sluice::config
