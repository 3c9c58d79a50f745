#pragma once
// RAII owners for libnftnl objects, one alias per type. Functions that hand an
// object to a container (libnftnl frees it with the container) take it by &&
// and release it, so ownership transfer is visible at every call site.
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <memory>

namespace palisade::datapath::nft {

template <class T, void (*Free)(const T*)>
struct ConstFreeDeleter {
  void operator()(T* p) const { Free(p); }
};
template <class T, void (*Free)(T*)>
struct FreeDeleter {
  void operator()(T* p) const { Free(p); }
};

using TablePtr = std::unique_ptr<nftnl_table, ConstFreeDeleter<nftnl_table, nftnl_table_free>>;
using ChainPtr = std::unique_ptr<nftnl_chain, ConstFreeDeleter<nftnl_chain, nftnl_chain_free>>;
using RulePtr = std::unique_ptr<nftnl_rule, ConstFreeDeleter<nftnl_rule, nftnl_rule_free>>;
using ExprPtr = std::unique_ptr<nftnl_expr, ConstFreeDeleter<nftnl_expr, nftnl_expr_free>>;
using SetPtr = std::unique_ptr<nftnl_set, ConstFreeDeleter<nftnl_set, nftnl_set_free>>;
using SetElemPtr =
    std::unique_ptr<nftnl_set_elem, FreeDeleter<nftnl_set_elem, nftnl_set_elem_free>>;
using GenPtr = std::unique_ptr<nftnl_gen, ConstFreeDeleter<nftnl_gen, nftnl_gen_free>>;
using UdataBufPtr =
    std::unique_ptr<nftnl_udata_buf, ConstFreeDeleter<nftnl_udata_buf, nftnl_udata_buf_free>>;

inline TablePtr makeTable() { return TablePtr(nftnl_table_alloc()); }
inline ChainPtr makeChain() { return ChainPtr(nftnl_chain_alloc()); }
inline RulePtr makeRule() { return RulePtr(nftnl_rule_alloc()); }
inline ExprPtr makeExpr(const char* name) { return ExprPtr(nftnl_expr_alloc(name)); }
inline SetPtr makeSet() { return SetPtr(nftnl_set_alloc()); }
inline SetElemPtr makeSetElem() { return SetElemPtr(nftnl_set_elem_alloc()); }
inline GenPtr makeGen() { return GenPtr(nftnl_gen_alloc()); }

/// The rule takes the expression (libnftnl frees it with the rule).
inline void addExpr(nftnl_rule* rule, ExprPtr&& expr) { nftnl_rule_add_expr(rule, expr.release()); }
/// The set takes the element.
inline void addElem(nftnl_set* set, SetElemPtr&& elem) { nftnl_set_elem_add(set, elem.release()); }

}  // namespace palisade::datapath::nft
