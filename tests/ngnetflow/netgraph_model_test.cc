// The netgraph model itself: it must reject what the kernel rejects (and what the notes call
// pitfalls), or the tests that run generated batches against it would prove nothing.
#include "tests/ngnetflow/netgraph_model.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nf::ng::model {
namespace {

Netgraph EtherHost() {
  Netgraph g;
  g.AddInterface("igb0", true);
  g.AddInterface("igb0.100", true);
  g.AddInterface("tun0", false);
  g.LoadModule("ng_ether");
  return g;
}

TEST(NetgraphModel, EtherNodesNeedTheModuleAndEthernet) {
  Netgraph g;
  g.AddInterface("igb0", true);
  EXPECT_FALSE(g.Execute("mkpeer igb0: netflow lower iface0").ok()) << "ng_ether not loaded";
  g.LoadModule("ng_ether");
  g.AddInterface("tun0", false);
  EXPECT_NE(g.FindNode("igb0"), nullptr);
  EXPECT_EQ(g.FindNode("tun0"), nullptr);
  EXPECT_FALSE(g.Execute("mkpeer tun0: netflow lower iface0").ok());
}

TEST(NetgraphModel, VlanNodeNameUsesUnderscore) {
  Netgraph g = EtherHost();
  EXPECT_FALSE(g.Execute("mkpeer igb0.100: netflow lower iface0").ok());
  EXPECT_TRUE(g.Execute("mkpeer igb0_100: netflow lower iface0").ok());
}

TEST(NetgraphModel, HookNamesPerType) {
  Netgraph g = EtherHost();
  EXPECT_FALSE(g.Execute("mkpeer igb0: netflow lower iface01").ok()) << "leading zero";
  EXPECT_FALSE(g.Execute("mkpeer igb0: netflow middle iface0").ok()) << "ether hook";
  EXPECT_FALSE(g.Execute("mkpeer igb0: netflow lower iface65535").ok());
  ASSERT_TRUE(g.Execute("mkpeer igb0: netflow lower iface0").ok());
  ASSERT_TRUE(g.Execute("name igb0:lower nf").ok());
  EXPECT_FALSE(g.Execute("connect igb0: nf: upper iface0").ok()) << "iface0 already used";
  EXPECT_FALSE(g.Execute("connect igb0: nf: orphans out0").ok()) << "lower/orphans exclusive";
  EXPECT_FALSE(g.Execute("mkpeer nf: ksocket export9 inet6/dgram/udp").ok())
      << "udp is an alias for inet only";
  EXPECT_TRUE(g.Execute("mkpeer nf: ksocket export9 inet6/dgram/17").ok());
}

TEST(NetgraphModel, NamesAreUniqueAndValid) {
  Netgraph g = EtherHost();
  ASSERT_TRUE(g.Execute("mkpeer igb0: netflow lower iface0").ok());
  EXPECT_FALSE(g.Execute("name igb0:lower net.flow").ok());
  EXPECT_FALSE(g.Execute("name igb0:lower igb0_100").ok()) << "taken by the vlan's ether node";
  EXPECT_TRUE(g.Execute("name igb0:lower netflow").ok());
}

TEST(NetgraphModel, OmittedStructFieldsAreRejected) {
  Netgraph g = EtherHost();
  ASSERT_TRUE(g.ExecuteBatch("mkpeer igb0: netflow lower iface0\nname igb0:lower nf\n").ok());
  EXPECT_FALSE(g.Execute("msg nf: settimeouts { inactive=15 }").ok());
  EXPECT_FALSE(g.Execute("msg nf: settemplate { time=60 }").ok());
  EXPECT_FALSE(g.Execute("msg nf: settimeouts { active=120 inactive=15 }").ok()) << "order";
  EXPECT_TRUE(g.Execute("msg nf: settimeouts { inactive=15 active=120 }").ok());
  EXPECT_FALSE(g.Execute("msg nf: setmtu { mtu=20 }").ok());
  EXPECT_FALSE(g.Execute("msg nf: setdlt { iface=1 dlt=12 }").ok()) << "iface1 not connected";
  EXPECT_FALSE(g.Execute("msg nf: setdlt { iface=0 dlt=7 }").ok());
  EXPECT_TRUE(g.Execute("msg nf: setifindex { iface=0 index=3 }").ok());
  EXPECT_FALSE(g.Execute("msg nf: setifindex { iface=2 index=3 }").ok());
}

TEST(NetgraphModel, KsocketAddressForms) {
  Netgraph g = EtherHost();
  ASSERT_TRUE(g.ExecuteBatch("mkpeer igb0: netflow lower iface0\nname igb0:lower nf\n"
                             "mkpeer nf: ksocket export9 inet/dgram/udp\n")
                  .ok());
  EXPECT_FALSE(g.Execute("msg nf:export9 getpeername").ok());
  EXPECT_FALSE(g.Execute("msg nf:export9 connect inet6/2001:db8::5:2055").ok());
  EXPECT_FALSE(g.Execute("msg nf:export9 connect inet/10.0.0.256:1").ok());
  ASSERT_TRUE(g.Execute("msg nf:export9 connect inet/10.0.0.5:2055").ok());
  EXPECT_TRUE(g.Execute("msg nf:export9 getpeername").ok());
  EXPECT_EQ(g.NodeById(g.FindNode("nf")->hooks.at("export9").node)->connected_to,
            "10.0.0.5 port 2055");

  Netgraph g6 = EtherHost();
  ASSERT_TRUE(g6.ExecuteBatch("mkpeer igb0: netflow lower iface0\nname igb0:lower nf\n"
                              "mkpeer nf: ksocket export9 inet6/dgram/17\n")
                  .ok());
  EXPECT_FALSE(g6.Execute("msg nf:export9 connect inet/10.0.0.5:2055").ok()) << "family";
  EXPECT_FALSE(g6.Execute("msg nf:export9 connect { len=28 family=28 data=[ 8 7 ] }").ok());
  ASSERT_TRUE(g6.Execute("msg nf:export9 connect { len=28 family=28 data=[ 8 7 0 0 0 0 32 1 "
                         "13 184 0 0 0 0 0 0 0 0 0 0 0 5 0 0 0 0 ] }")
                  .ok());
  EXPECT_EQ(g6.NodeById(g6.FindNode("nf")->hooks.at("export9").node)->connected_to,
            "2001:db8::5 port 2055");
}

TEST(NetgraphModel, HalfBuiltGraphCutsTheInterface) {
  Netgraph g = EtherHost();
  ASSERT_TRUE(g.Execute("mkpeer igb0: netflow lower iface0").ok());
  std::string why;
  EXPECT_EQ(g.InterfaceTraffic("igb0", &why), Traffic::kCutOff) << why;
  ASSERT_TRUE(g.Execute("name igb0:lower nf").ok());
  ASSERT_TRUE(g.Execute("connect igb0: nf: upper out1").ok());
  EXPECT_EQ(g.InterfaceTraffic("igb0", &why), Traffic::kCutOff) << "iface0/out1 is no pair";
  ASSERT_TRUE(g.Execute("rmhook igb0: upper").ok());
  ASSERT_TRUE(g.Execute("connect igb0: nf: upper out0").ok());
  EXPECT_EQ(g.InterfaceTraffic("igb0", &why), Traffic::kAccounted) << why;
}

TEST(NetgraphModel, ShutdownSemantics) {
  Netgraph g = EtherHost();
  ASSERT_TRUE(g.ExecuteBatch("mkpeer igb0: netflow lower iface0\nname igb0:lower nf\n"
                             "connect igb0: nf: upper out0\n"
                             "mkpeer nf: ksocket export9 inet/dgram/udp\n")
                  .ok());
  EXPECT_EQ(g.CountNodes(NodeType::kKsocket), 1);
  ASSERT_TRUE(g.Execute("shutdown nf:").ok());
  EXPECT_EQ(g.CountNodes(NodeType::kNetflow), 0);
  EXPECT_EQ(g.CountNodes(NodeType::kKsocket), 0) << "ksocket dies with its only hook";
  EXPECT_EQ(g.InterfaceTraffic("igb0"), Traffic::kPasses);
  EXPECT_NE(g.FindNode("igb0"), nullptr) << "ether nodes are persistent";

  // A netflow node whose last hook goes away shuts down by itself.
  ASSERT_TRUE(g.Execute("mkpeer igb0: netflow lower iface0").ok());
  EXPECT_EQ(g.CountNodes(NodeType::kNetflow), 1);
  ASSERT_TRUE(g.Execute("rmhook igb0: lower").ok());
  EXPECT_EQ(g.CountNodes(NodeType::kNetflow), 0);
}

TEST(NetgraphModel, IpfwNodeAndRules) {
  Netgraph g;
  g.AddInterface("tun0", false);
  g.LoadModule("ng_ipfw");
  EXPECT_THAT(g.violations(), ::testing::ElementsAre(::testing::HasSubstr("default deny")));
  Netgraph h;
  h.ipfw_preloaded = true;
  h.LoadModule("ipfw");
  h.LoadModule("ng_ipfw");
  EXPECT_TRUE(h.violations().empty());
  EXPECT_FALSE(h.Execute("mkpeer ipfw: netflow 09995 iface0").ok());
  ASSERT_TRUE(h.Execute("mkpeer ipfw: netflow 9995 iface0").ok());
  ASSERT_TRUE(h.Ipfw({"-q", "add", "1000", "ngtee", "9995", "ip", "from", "any", "to", "any", "in",
                      "via", "tun0"})
                  .ok());
  EXPECT_TRUE(h.Ipfw({"list", "1000"}).ok());
  ASSERT_TRUE(h.Ipfw({"-q", "delete", "1000"}).ok());
  EXPECT_FALSE(h.Ipfw({"list", "1000"}).ok());
  ASSERT_TRUE(h.Ipfw({"add", "1000", "netgraph", "9995", "ip", "from", "any", "to", "any"}).ok());
  EXPECT_THAT(h.violations(), ::testing::ElementsAre(::testing::HasSubstr("diverts")));
  ASSERT_TRUE(h.Execute("shutdown ipfw:").ok());
  EXPECT_THAT(h.violations(), ::testing::Contains(::testing::HasSubstr("ipfw: node")));
}

TEST(NetgraphModel, BatchSkipsCommentsAndGoesOnAfterErrors) {
  Netgraph g = EtherHost();
  absl::Status s = g.ExecuteBatch(
      "# comment\nmkpeer igb0: netflow lower iface0\nname igb0:lower bad.name\n"
      "name igb0:lower nf\n");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("line 3"));
  EXPECT_NE(g.FindNode("nf"), nullptr) << "line 4 still ran";
}

}  // namespace
}  // namespace nf::ng::model
