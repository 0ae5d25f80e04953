package lan

import (
	"net"
	"sort"
)

// Addresses lists the machine's addresses that other hosts on the local
// network can reach: unicast addresses of interfaces that are up, not
// loopback, IPv4 first, without IPv6 link-local addresses (they need a
// zone). It returns an empty list on a machine with no network.
func Addresses() ([]net.IP, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var ips []net.IP
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || !usable(ipn.IP) {
				continue
			}
			ips = append(ips, ipn.IP)
		}
	}
	sortIPs(ips)
	return ips, nil
}

// loopbackAddresses lists the addresses of loopback interfaces that are up.
func loopbackAddresses() []net.IP {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var ips []net.IP
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback == 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				ips = append(ips, ipn.IP)
			}
		}
	}
	sortIPs(ips)
	return ips
}

func usable(ip net.IP) bool {
	return !ip.IsLoopback() && !ip.IsUnspecified() && !ip.IsMulticast() &&
		!ip.IsLinkLocalUnicast() || ip.To4() != nil && ip.IsLinkLocalUnicast()
}

func sortIPs(ips []net.IP) {
	sort.SliceStable(ips, func(i, j int) bool {
		return ips[i].To4() != nil && ips[j].To4() == nil
	})
}
