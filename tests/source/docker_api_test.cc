#include "agent/source/docker_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sluice {
namespace {

std::map<std::string, std::string> Map(const LabelSet& l) {
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : l.labels()) m[std::string(k)] = std::string(v);
  return m;
}

constexpr char kNetworks[] = R"([
  {"Name":"bridge","Id":"n1","Scope":"local","Internal":false,"Ingress":false,
   "Labels":{"com.example.tier":"front"}},
  {"Name":"zeta","Id":"n2","Scope":"swarm","Internal":true,"Ingress":false,"Labels":{}}
])";

TEST(DockerTargetsTest, OneTargetPerTcpPortWithPrometheusLabels) {
  constexpr char kContainers[] = R"([{
    "Id":"abc","Names":["/web","/alias"],"Labels":{"com.example.app":"web"},
    "Ports":[{"PrivatePort":8080,"PublicPort":80,"IP":"0.0.0.0","Type":"tcp"},
             {"PrivatePort":53,"Type":"udp"},{"PrivatePort":9090,"Type":"tcp"}],
    "HostConfig":{"NetworkMode":"bridge"},
    "NetworkSettings":{"Networks":{"zeta":{"NetworkID":"n2","IPAddress":"10.0.0.9"},
                                   "bridge":{"NetworkID":"n1","IPAddress":"172.17.0.2"}}}}])";
  auto t = DockerTargets(kContainers, kNetworks, DockerSdOptions{});
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 2u);  // match_first_network: "bridge" only; the UDP port skipped
  EXPECT_EQ(Map((*t)[0]), (std::map<std::string, std::string>{
                              {"__address__", "172.17.0.2:8080"},
                              {"__meta_docker_container_id", "abc"},
                              {"__meta_docker_container_label_com_example_app", "web"},
                              {"__meta_docker_container_name", "/web"},
                              {"__meta_docker_container_network_mode", "bridge"},
                              {"__meta_docker_network_id", "n1"},
                              {"__meta_docker_network_ingress", "false"},
                              {"__meta_docker_network_internal", "false"},
                              {"__meta_docker_network_ip", "172.17.0.2"},
                              {"__meta_docker_network_label_com_example_tier", "front"},
                              {"__meta_docker_network_name", "bridge"},
                              {"__meta_docker_network_scope", "local"},
                              {"__meta_docker_port_private", "8080"},
                              {"__meta_docker_port_public", "80"},
                              {"__meta_docker_port_public_ip", "0.0.0.0"},
                          }));
  EXPECT_EQ(*(*t)[1].Get("__address__"), "172.17.0.2:9090");
  EXPECT_FALSE((*t)[1].Get("__meta_docker_port_public").has_value());

  DockerSdOptions all;
  all.match_first_network = false;
  auto every = DockerTargets(kContainers, kNetworks, all);
  ASSERT_TRUE(every.ok());
  EXPECT_EQ(every->size(), 4u);
}

TEST(DockerTargetsTest, NoPortsHostNetworkAndSharedNetworks) {
  constexpr char kContainers[] = R"([
    {"Id":"a","Names":["/a"],"HostConfig":{"NetworkMode":"bridge"},
     "NetworkSettings":{"Networks":{"bridge":{"NetworkID":"n1","IPAddress":"172.17.0.5"}}}},
    {"Id":"h","Names":["/h"],"HostConfig":{"NetworkMode":"host"},
     "NetworkSettings":{"Networks":{"host":{"NetworkID":"nh","IPAddress":""}}}},
    {"Id":"s","Names":["/s"],"HostConfig":{"NetworkMode":"container:a"},
     "NetworkSettings":{"Networks":{}}},
    {"Id":"nameless","Names":[],"HostConfig":{"NetworkMode":"bridge"}}])";
  DockerSdOptions o;
  o.port = 9100;
  o.host_networking_host = "node-1";
  auto t = DockerTargets(kContainers, kNetworks, o);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ(*(*t)[0].Get("__address__"), "172.17.0.5:9100");
  EXPECT_EQ(*(*t)[1].Get("__address__"), "node-1");
  EXPECT_EQ(*(*t)[2].Get("__address__"), "172.17.0.5:9100");
  EXPECT_EQ(*(*t)[2].Get("__meta_docker_container_network_mode"), "container:a");
}

TEST(DockerTargetsTest, BadJsonIsAnError) {
  EXPECT_FALSE(DockerTargets("{", "[]", DockerSdOptions{}).ok());
  EXPECT_FALSE(DockerTargets("[]", "nope", DockerSdOptions{}).ok());
}

TEST(DockerApiTest, Hosts) {
  auto u = ParseDockerHost("unix:///var/run/docker.sock");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->socket_path, "/var/run/docker.sock");
  EXPECT_EQ(u->base_url, "http://localhost");
  auto t = ParseDockerHost("tcp://10.0.0.1:2375/");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->base_url, "http://10.0.0.1:2375");
  EXPECT_TRUE(t->socket_path.empty());
  EXPECT_FALSE(ParseDockerHost("npipe:////./pipe/docker_engine").ok());
  EXPECT_FALSE(ParseDockerHost("unix://").ok());
}

TEST(DockerApiTest, InspectFiltersAndLabels) {
  auto i = ParseDockerInspect(
      R"({"Config":{"Tty":true},"State":{"Running":false,"FinishedAt":"2024-01-02T03:04:05.5Z"}})");
  ASSERT_TRUE(i.ok());
  EXPECT_TRUE(i->tty);
  EXPECT_FALSE(i->running);
  EXPECT_EQ(i->finished_unix, 1704164645);
  EXPECT_EQ(DockerFiltersJson({{"label", {"a=b"}}, {"name", {"web"}}, {"label", {"c"}}}),
            R"({"label":{"a=b":true,"c":true},"name":{"web":true}})");
  LabelSet l;
  l.Set("job", "x\"y");
  l.Set("__meta_docker_container_id", "abc");
  EXPECT_EQ(RenderAllLabels(l), R"({__meta_docker_container_id="abc", job="x\"y"})");
}

}  // namespace
}  // namespace sluice
