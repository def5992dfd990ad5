// goyaml_positions reads and writes a positions file the way Alloy does (gopkg.in/yaml.v2 into
// struct{ Positions map[Entry]string }), so that alloy_format_test can check sluice's file
// against Alloy's own YAML library. Built by that test with Debian's golang-go and
// golang-gopkg-yaml.v2-dev (GOPATH mode); never part of the agent.
//
//	goyaml_positions marshal    stdin: lines "hex(path) hex(labels) offset"; stdout: the YAML
//	goyaml_positions unmarshal  stdin: the YAML; stdout: lines as above, sorted
//
// Strings travel hex-encoded so that bytes that are not UTF-8 survive the trip.
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	yaml "gopkg.in/yaml.v2"
)

type entry struct {
	Path   string `yaml:"path"`
	Labels string `yaml:"labels"`
}

type file struct {
	Positions map[entry]string `yaml:"positions"`
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 2 {
		fail(fmt.Errorf("usage: goyaml_positions marshal|unmarshal"))
	}
	switch os.Args[1] {
	case "marshal":
		f := file{Positions: map[entry]string{}}
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for sc.Scan() {
			parts := strings.Split(sc.Text(), " ")
			if len(parts) != 3 {
				fail(fmt.Errorf("bad line %q", sc.Text()))
			}
			p, err := hex.DecodeString(parts[0])
			if err != nil {
				fail(err)
			}
			l, err := hex.DecodeString(parts[1])
			if err != nil {
				fail(err)
			}
			f.Positions[entry{Path: string(p), Labels: string(l)}] = parts[2]
		}
		out, err := yaml.Marshal(f)
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(out)
	case "unmarshal":
		in, err := io.ReadAll(os.Stdin)
		if err != nil {
			fail(err)
		}
		var f file
		if err := yaml.Unmarshal(in, &f); err != nil {
			fail(err)
		}
		var lines []string
		for k, v := range f.Positions {
			lines = append(lines, fmt.Sprintf("%s %s %s", hex.EncodeToString([]byte(k.Path)),
				hex.EncodeToString([]byte(k.Labels)), v))
		}
		sort.Strings(lines)
		for _, l := range lines {
			fmt.Println(l)
		}
	default:
		fail(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}
